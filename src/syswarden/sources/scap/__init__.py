"""sysdig/Falco capture files (scap): block format, event codes, reader (``ScapSource``) and writer."""
