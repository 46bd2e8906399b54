"""The PEP 517 build backend of `pip install .` (pyproject.toml, docs/python.md).

It builds nothing itself: CMake builds fovea (the build folder named by FOVEA_BUILD, else
./build when it holds a CMake build, else a new ./build-pip), installs it into a staging folder
and the wheel is made from what the install put there: the package with its extension, and
libfovea.so as wheel data for PREFIX/lib, three folders above the package, where the extension's
rpath ($ORIGIN/../../..) looks. Nothing is downloaded.
"""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

NAME, VERSION = "fovea", "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build_dir():
    given = os.environ.get("FOVEA_BUILD")
    if given:
        return os.path.abspath(given)
    local = os.path.join(ROOT, "build")
    if os.path.exists(os.path.join(local, "CMakeCache.txt")):
        return local
    return os.path.join(ROOT, "build-pip")


def _run(*cmd):
    print("fovea_build:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def _staged():
    """Builds fovea with its Python bindings and installs it into a staging folder."""
    build = _build_dir()
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        _run("cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DFOVEA_PYTHON=ON",
             "-DFOVEA_BUILD_TESTS=OFF", "-DFOVEA_BUILD_BENCH=OFF", f"-DPython3_EXECUTABLE={sys.executable}")
    # everything `cmake --install` copies must exist (an existing full build has it all already)
    _run("cmake", "--build", build, "--parallel", str(os.cpu_count() or 2))
    stage = tempfile.mkdtemp(prefix="fovea_wheel_")
    _run("cmake", "--install", build, "--prefix", stage)
    package = None
    for here, dirs, files in os.walk(os.path.join(stage, "lib")):
        if os.path.basename(here) == "fovea" and "__init__.py" in files:
            package = here
    if package is None:
        raise RuntimeError(f"fovea_build: the install in {stage} holds no Python package: was fovea configured "
                           "with FOVEA_PYTHON=OFF, or without pybind11-dev / python3-dev / libdlpack-dev?")
    libs = [os.path.join(stage, "lib", f) for f in sorted(os.listdir(os.path.join(stage, "lib")))
            if f.startswith("libfovea") and ".so" in f]
    return stage, package, libs


def _tag():
    impl = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"{impl}-{impl}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _metadata():
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Convolutional networks in C++: build, train, inspect and explain CNNs (Python bindings)\n"
            "Requires-Python: >=3.9\nRequires-Dist: numpy\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    stage, package, libs = _staged()
    tag = _tag()
    wheel = f"{NAME}-{VERSION}-{tag}.whl"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            z.writestr(arcname, data)
            records.append(_record_line(arcname, data))
        for f in sorted(os.listdir(package)):
            with open(os.path.join(package, f), "rb") as fh:
                add(f"fovea/{f}", fh.read())
        for lib in libs:  # PREFIX/lib, three folders above PREFIX/lib/pythonX.Y/site-packages/fovea
            with open(lib, "rb") as fh:
                add(f"{NAME}-{VERSION}.data/data/lib/{os.path.basename(lib)}", fh.read())
        add(f"{dist_info}/METADATA", _metadata().encode())
        add(f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: fovea_build\nRoot-Is-Purelib: false\nTag: {tag}\n".encode())
        records.append(f"{dist_info}/RECORD,,")
        z.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    shutil.rmtree(stage, ignore_errors=True)
    return wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = os.path.join(metadata_directory, f"{NAME}-{VERSION}.dist-info")
    os.makedirs(dist_info, exist_ok=True)
    with open(os.path.join(dist_info, "METADATA"), "w") as f:
        f.write(_metadata())
    return os.path.basename(dist_info)


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("fovea_build: no source distribution; build from the repository (pip install .)")
