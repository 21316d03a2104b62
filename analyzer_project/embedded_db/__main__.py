"""`python -m analyzer_project.embedded_db start|stop`."""

import sys

from analyzer_project.embedded_db import socket_dir, stop

if sys.argv[1:] == ["stop"]:
    print(stop())
elif sys.argv[1:] == ["start"]:
    print(f"embedded PostgreSQL running, socket in {socket_dir()}")
else:
    sys.exit("usage: python -m analyzer_project.embedded_db start|stop")
