"""pytest set-up for the Python bindings (ctest `python`): the package the build laid out in
build/python comes first on sys.path (ctest sets PYTHONPATH; run by hand, FOVEA_BUILD or build/)."""
import os
import sys

SOURCE = os.environ.get("FOVEA_SOURCE", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("FOVEA_BUILD", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(BUILD, "python"))
