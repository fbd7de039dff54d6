import sys

from taskgroup.cli import main

sys.exit(main())
