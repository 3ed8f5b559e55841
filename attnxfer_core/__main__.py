import sys

from attnxfer_core.cli import main

sys.exit(main())
