"""Regenerate the checked-in gRPC stubs in wire/v1 from proto/ (the one way to do it)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("wire") / "v1"


def generate(out_root: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Run protoc (python, grpc and mypy stubs) for every .proto into `out_root`; list outputs."""
    protos = (proto_root / PACKAGE_DIR).glob("*.proto")
    sources = sorted(str(p.relative_to(proto_root)) for p in protos)
    include = Path(protoc.__file__).parent / "_proto"
    bindir = Path(sys.executable).parent
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = sorted((out_root / PACKAGE_DIR).glob("*_pb2*"))
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if checked-in stubs are stale")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="tree holding proto/ and wire/v1 (default: this repository; tests use a copy)",
    )
    options = parser.parse_args()
    root: Path = options.root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out_root = Path(tmp)
        generated = generate(out_root, root / "proto")
        stale = []
        for path in generated:
            target = root / path.relative_to(out_root)
            if not target.exists() or target.read_bytes() != path.read_bytes():
                stale.append(target)
                if not options.check:
                    shutil.copyfile(path, target)
        names = {p.name for p in generated}
        extra = [p for p in (root / PACKAGE_DIR).glob("*_pb2*") if p.name not in names]
    if options.check:
        for path in stale + extra:
            print(f"stale generated stub: {path.relative_to(root)}", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in extra:
        path.unlink()
    (root / PACKAGE_DIR / "__init__.py").write_text('"""Generated gRPC stubs (gongying.v1)."""\n')
    print(f"regenerated {len(generated)} files in {PACKAGE_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
