"""Python stubs generated from proto/ by grpcio-tools, as a partner's or vendor's engineers
would make them: shared by the test clients."""

import atexit
import importlib
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate(name):
    """Generates the stubs of fenghuo/v1/<name>.proto; returns (messages, services)."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="fenghuo-stubs-")
    # The stubs are needed until the process ends; leave nothing behind in /tmp.
    atexit.register(shutil.rmtree, out, True)
    proto_dir = ROOT / "proto" / "proto"
    status = protoc.main([
        "protoc",
        f"-I{proto_dir}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(proto_dir / "fenghuo" / "v1" / f"{name}.proto"),
    ])
    if status != 0:
        sys.exit(f"protoc failed with {status}")
    sys.path.insert(0, out)
    return (
        importlib.import_module(f"fenghuo.v1.{name}_pb2"),
        importlib.import_module(f"fenghuo.v1.{name}_pb2_grpc"),
    )
