"""Stock tritonclient[grpc] against an XCloud service, one command per run, answers as JSON.

It runs in its own process: tritonclient carries its own copy of the ``inference`` protocol,
which protobuf refuses to load beside XCloud's (xcloud/oip) in the test process, where the
server runs. It imports nothing of XCloud, as a third-party client would.

    python tests/services/oip_probe.py metadata ADDRESS MODEL
    python tests/services/oip_probe.py infer ADDRESS MODEL INPUT DATATYPE ROWS.npy OUT_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException


def tensors(items) -> list[dict]:
    return [{"name": t.name, "datatype": t.datatype, "shape": [int(d) for d in t.shape]}
            for t in items]


def metadata(client: triton.InferenceServerClient, model: str) -> dict:
    server = client.get_server_metadata()
    described = client.get_model_metadata(model)
    return {
        "live": client.is_server_live(), "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "server": {"name": server.name, "version": server.version},
        "model": {"name": described.name, "versions": list(described.versions),
                  "platform": described.platform, "inputs": tensors(described.inputs),
                  "outputs": tensors(described.outputs)},
    }


def infer(client: triton.InferenceServerClient, model: str, name: str, datatype: str,
          rows_path: str, out_dir: str) -> dict:
    """One ModelInfer with the rows as raw_input_contents; each output saved as
    OUT_DIR/<name>.npy."""
    rows = np.load(rows_path)
    request = triton.InferInput(name, list(rows.shape), datatype)
    request.set_data_from_numpy(rows)
    result = client.infer(model, [request], request_id="probe-1")
    response = result.get_response()
    for output in response.outputs:
        np.save(Path(out_dir) / f"{output.name}.npy", result.as_numpy(output.name))
    return {"id": response.id, "model_version": response.model_version,
            "outputs": tensors(response.outputs)}


def main(argv: list[str]) -> int:
    command, address, *rest = argv
    client = triton.InferenceServerClient(url=address)
    try:
        answer = metadata(client, *rest) if command == "metadata" else infer(client, *rest)
    except InferenceServerException as error:  # the status the server answered with
        answer = {"error": {"status": str(error.status()), "message": error.message()}}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
