"""Plumbing every tool shares: files from outside and files we write, value converters."""
