"""Linux audit: the auditctl rule language and its kernel encoding, audit records, events and reports.

``rules`` (text -> positioned commands -> checked ``AuditRule`` -> ``struct audit_rule_data`` bytes, and back to
auditctl's listing form), ``records`` (one record line or netlink payload -> fields), ``reassembly`` (records ->
events by serial), ``interpret`` (hex strings, ids, arch and syscall names), ``ecs`` (auditbeat's documents),
``search`` and ``report`` (ausearch and aureport), ``translate`` (audit rules -> Falco rules) and ``control``
(loading rules into the kernel over ``kernel.audit_netlink``). See docs/audit.md.
"""
