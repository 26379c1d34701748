"""`python -m bench.keycloak`: see bench/keycloak/run.py."""

import sys

from bench.keycloak.run import main

sys.exit(main())
