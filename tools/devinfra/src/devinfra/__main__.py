import sys

from devinfra.cli import main

sys.exit(main())
