"""`python -m codegen.sdk`: see codegen/sdk/__init__.py."""

import sys

from codegen.sdk import main

sys.exit(main())
