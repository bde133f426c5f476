"""A small AWS Price List API stub on 127.0.0.1 (moto has no `pricing` service): answers GetProducts
(awsJson1_1) from a table of products, as the real API does — each PriceList item a JSON text with its
attributes and on-demand terms — and records every request's filters."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def product(service: str, attributes: dict[str, str], price: str, unit: str = "Hrs") -> dict[str, Any]:
    sku = f"SKU{abs(hash((service, tuple(sorted(attributes.items()))))) % 10**10:010d}"
    return {
        "product": {"productFamily": attributes.get("productFamily", "Compute Instance"), "attributes": attributes,
                    "sku": sku},
        "serviceCode": service,
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": unit, "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "description": f"${Decimal(price)} per {unit}", "pricePerUnit": {"USD": price},
                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7"}},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
            "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    }


class PriceListStub:
    def __init__(self, products: list[dict[str, Any]]) -> None:
        self.products = products
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                status, answer = stub._answer(target, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if target != "AWSPriceListService.GetProducts":
            return 400, {"__type": "InvalidParameterException", "message": f"unknown operation {target}"}
        self.requests.append(body)
        wanted = {f["Field"]: f["Value"] for f in body.get("Filters", [])}
        found = [json.dumps(p) for p in self.products if p["serviceCode"] == body.get("ServiceCode")
                 and all((p["product"]["attributes"].get(k) if k != "productFamily" else p["product"]["productFamily"])
                         == v for k, v in wanted.items())]
        return 200, {"FormatVersion": "aws_v1", "PriceList": found}
