#!/usr/bin/env bash
# Regenerates Sources/Wire/wirewatch.pb.swift from proto/wirewatch.proto. The generated file is committed, so
# builds need neither protoc nor the plugin; run this after changing the schema.
# Needs Debian's protobuf-compiler (protoc 3.21) and builds swift-protobuf's protoc-gen-swift from the package.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "install protoc: apt-get install -y protobuf-compiler" >&2; exit 2; }
swift build -c release --product protoc-gen-swift
plugin="$(swift build -c release --show-bin-path)/protoc-gen-swift"
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=Sources/Wire --swift_opt=Visibility=Public \
    -I proto proto/wirewatch.proto
echo "wrote Sources/Wire/wirewatch.pb.swift"
