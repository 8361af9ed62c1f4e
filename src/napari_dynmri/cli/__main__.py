import sys

from napari_dynmri.cli import main

sys.exit(main())
