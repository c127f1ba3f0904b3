import os
import sys

# Import the in-tree package (python/sslkit) rather than an installed one.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
