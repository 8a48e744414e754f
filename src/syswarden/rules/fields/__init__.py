"""Fields: what ``proc.name``, ``fd.name``, ``evt.arg.flags`` ... read from an event, and how Falco prints them.

One module per field class (``evt``, ``proc``, ``thread``, ``user``, ``group``, ``fd``, ``container``), a
``registry`` that looks names up, ``params`` for Falco's parameter rendering and ``formatting`` for values.
"""
