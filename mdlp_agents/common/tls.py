"""TLS as our probes speak it: the appliance serves a self-signed certificate on 443, so nothing is
verified -- a probe asks whether httpd answers, doctor reads which certificate it serves."""


def unverified_context():
    """A client context that checks neither the certificate nor the host name."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
