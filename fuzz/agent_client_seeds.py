#!/usr/bin/env python3
# Writes agent_client_fuzz's seeds into OUT (default fuzz/corpus/agent_client): the answers a
# real brokerkey-agent on a fresh SoftHSM broker gives a client (the module in client mode, the
# drop-ins): identities, a signature, the view@, health@, query and login@ extensions, their
# refusals, the view asked for again by its tag (unchanged), and the view after a rotation
# (both slots) and after a revocation. Each seed is one response body (no frame length); the
# views are also written as their bare JSON.
# Usage (from the source tree): python3 fuzz/agent_client_seeds.py BUILD_DIR [OUT]
import json, os, socket, struct, sys

from seed_broker import SeedBroker

out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus", "agent_client"))
os.makedirs(out, exist_ok=True)
def string(b):
    return struct.pack(">I", len(b)) + b

def call(body):
    s = socket.socket(socket.AF_UNIX)
    s.connect(broker.agent_socket)
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data[4:]

def save(name, body):
    open(os.path.join(out, name), "wb").write(body)

def extension(name, contents=b""):
    return call(bytes([27]) + string(name.encode()) + contents)

def save_view(name):
    body = extension("view@brokerkey.org")
    save(name, body)
    length = struct.unpack(">I", body[1 + 4 + len(b"view@brokerkey.org"):][:4])[0]
    save(name + ".json", body[-length:])

with SeedBroker(sys.argv[1], "brokerkey-agent-client-seeds-", allow="raw") as broker:
    identities = call(bytes([11]))
    save("identities", identities)
    key_blob = identities[9:9 + struct.unpack(">I", identities[5:9])[0]]
    save("sign-response", call(bytes([13]) + string(key_blob) + string(b"raw data") + struct.pack(">I", 0)))
    save("sign-refused", call(bytes([13]) + string(b"not a key") + string(b"raw data") + struct.pack(">I", 0)))
    save_view("view")
    # The same view asked for again by its tag: the "unchanged" answer (an empty string).
    tag = json.loads(open(os.path.join(out, "view.json"), "rb").read())["tag"]
    save("view-unchanged", extension("view@brokerkey.org", string(tag.encode())))
    save("health", extension("health@brokerkey.org"))
    save("query", extension("query"))
    save("login-peer", extension("login@brokerkey.org"))
    save("login-pin", extension("login@brokerkey.org", string(broker.pin.encode())))
    save("login-refused", extension("login@brokerkey.org", string(b"ci:wrong")))
    broker.run(broker.tool, "rotate")
    save_view("view-rotated")
    fingerprint = broker.run(broker.tool, "pubkey", "--format", "fingerprint").stdout.decode().strip()
    broker.run(broker.tool, "revoke", fingerprint, "--reason", "seed")
    save_view("view-revoked")
print("wrote", len(os.listdir(out)), "seeds to", out)
