import sys

try:
    from taskgroup.cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load: one line, not a traceback through the imports
    print("taskgroup: interrupted while starting; nothing was done.", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
