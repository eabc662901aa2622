"""Registers benchmark devices at a running Tegata and writes the files the wrk scripts read.

Usage: prepare-devices.py PORT COUNT SECRET DIR
Writes DIR/devices.txt (device ids), DIR/refresh.txt (each device's refresh token) and
DIR/access.txt (the first 64 access tokens).
"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

port, count, secret, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def sign_in(i):
    body = json.dumps({"device_id": f"bench-device-{i:05d}", "device_secret": secret, "platform": "ios"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/auth/device", data=body, headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


with ThreadPoolExecutor(8) as pool:
    tokens = list(pool.map(sign_in, range(count)))
open(f"{work}/devices.txt", "w").write("".join(f"bench-device-{i:05d}\n" for i in range(count)))
open(f"{work}/refresh.txt", "w").write("".join(t["refresh_token"] + "\n" for t in tokens))
open(f"{work}/access.txt", "w").write("".join(t["access_token"] + "\n" for t in tokens[:64]))
