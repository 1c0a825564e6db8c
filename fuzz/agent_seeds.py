#!/usr/bin/env python3
# Writes agent_fuzz's seeds into OUT (default fuzz/corpus/agent): the frames real clients send
# to brokerkey-agent, recorded by a proxy between them and a real agent on a fresh SoftHSM
# broker. Clients: ssh-add -L/-l, ssh-keygen -Y sign (namespaces git and file), git commit -S
# and git tag -s in the ssh format with a key:: signing key, the ssh-add requests the agent
# refuses (add, remove all, lock, unlock, smartcard), and the extensions brokerkey offers.
# An ssh user-authentication request and CMS signed attributes are written as OpenSSH and
# brokerkey-gpgsm make them (RFC 4252 section 7, RFC 5652 section 5.4), signed through the
# proxy too. Each seed is one client's whole conversation (its frames in order) or, once
# per distinct frame, a single frame.
# Usage (as root, from the source tree): python3 fuzz/agent_seeds.py BUILD_DIR [OUT]
import atexit, hashlib, os, socket, struct, subprocess, sys, threading, time

from seed_broker import SeedBroker

out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus", "agent"))
os.makedirs(out, exist_ok=True)
broker = SeedBroker(sys.argv[1], "brokerkey-agent-seeds-", allow="sshsig:git,cms,ssh-auth,raw", home=True)
atexit.register(broker.stop)
broker.start()
work, env, tool, agent_socket, run = broker.work, broker.env, broker.tool, broker.agent_socket, broker.run
proxy_socket = os.path.join(work, "run", "proxy.sock")

def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data

def read_frame(conn):
    header = read_exactly(conn, 4)
    if header is None:
        return None
    body = read_exactly(conn, struct.unpack(">I", header)[0])
    return None if body is None else header + body

conversations = []  # (name, [frames]) in the order the clients connected
current_name = ["none"]

def relay(client):
    frames = []
    conversations.append((current_name[0], frames))
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(agent_socket)
    with client, upstream:
        while True:
            frame = read_frame(client)
            if frame is None:
                return
            frames.append(frame)
            upstream.sendall(frame)
            answer = read_frame(upstream)
            if answer is None:
                return
            client.sendall(answer)

listener = socket.socket(socket.AF_UNIX)
listener.bind(proxy_socket)
listener.listen(16)
def accept_loop():
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=relay, args=(conn,), daemon=True).start()
threading.Thread(target=accept_loop, daemon=True).start()

client_env = dict(env, SSH_AUTH_SOCK=proxy_socket)
def client(name, *args, **kw):
    current_name[0] = name
    result = run(*args, env=kw.pop("env", client_env), check=False, **kw)
    time.sleep(0.2)  # the relay thread records the last frame
    print("%-24s exit %d" % (name, result.returncode))
    return result

def wire_string(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b

def talk(name, bodies):
    current_name[0] = name
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(proxy_socket)
        for body in bodies:
            conn.sendall(struct.pack(">I", len(body)) + body)
            read_frame(conn)
    time.sleep(0.2)

public_line = run(tool, "pubkey", "--format", "ssh").stdout.decode().split("\n")[0].strip()
key_blob = __import__("base64").b64decode(public_line.split()[1])
with open(os.path.join(work, "key.pub"), "w") as f:
    f.write(public_line + "\n")
with open(os.path.join(work, "message"), "w") as f:
    f.write("a message to sign\n")

client("ssh-add-L", "ssh-add", "-L")
client("ssh-add-l", "ssh-add", "-l")
client("ssh-keygen-sign-git", "ssh-keygen", "-Y", "sign", "-f", os.path.join(work, "key.pub"), "-n", "git",
       os.path.join(work, "message"))
os.remove(os.path.join(work, "message.sig"))
client("ssh-keygen-sign-file", "ssh-keygen", "-Y", "sign", "-f", os.path.join(work, "key.pub"), "-n", "file",
       os.path.join(work, "message"))

repo = os.path.join(work, "repo")
run("git", "init", "-q", repo)
for k, v in [("user.name", "CI bot"), ("user.email", "ci@acme.example"), ("gpg.format", "ssh"),
             ("user.signingkey", "key::" + public_line)]:
    run("git", "-C", repo, "config", k, v)
client("git-commit-S", "git", "-C", repo, "commit", "-q", "-S", "--allow-empty", "-m", "signed")
client("git-tag-s", "git", "-C", repo, "tag", "-s", "v1", "-m", "release")

# What the agent refuses, as ssh-add sends it: add a key, remove all, lock and unlock (the
# password from SSH_ASKPASS), add and remove a PKCS#11 provider.
run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "throwaway", "-f", os.path.join(work, "throwaway"))
askpass = os.path.join(work, "askpass")
with open(askpass, "w") as f:
    f.write("#!/bin/sh\necho lock-password\n")
os.chmod(askpass, 0o700)
askpass_env = dict(client_env, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
client("ssh-add-key", "ssh-add", os.path.join(work, "throwaway"))
client("ssh-add-key-constrained", "ssh-add", "-t", "60", os.path.join(work, "throwaway"))
client("ssh-add-D", "ssh-add", "-D")
client("ssh-add-x", "ssh-add", "-x", env=askpass_env, stdin=subprocess.DEVNULL)
client("ssh-add-X", "ssh-add", "-X", env=askpass_env, stdin=subprocess.DEVNULL)
client("ssh-add-s", "ssh-add", "-s", "/usr/lib/softhsm/libsofthsm2.so", env=askpass_env, stdin=subprocess.DEVNULL)
client("ssh-add-e", "ssh-add", "-e", "/usr/lib/softhsm/libsofthsm2.so")

# The extensions, and the two purposes no stock client here sends to an agent by itself.
ext = lambda name, contents=b"": bytes([27]) + wire_string(name) + contents
talk("extensions", [ext("query"), ext("view@brokerkey.org"), ext("view@brokerkey.org", wire_string("0" * 64)),
                    ext("health@brokerkey.org"),
                    ext("session-bind@openssh.com", wire_string(key_blob) + wire_string(b"\0" * 32) +
                        wire_string(b"\0" * 83) + b"\0")])
userauth = (wire_string(hashlib.sha256(b"session").digest()) + bytes([50]) + wire_string("ci") +
            wire_string("ssh-connection") + wire_string("publickey") + b"\x01" + wire_string("ssh-ed25519") +
            wire_string(key_blob))
hostbound = (wire_string(hashlib.sha256(b"session").digest()) + bytes([50]) + wire_string("ci") +
             wire_string("ssh-connection") + wire_string("publickey-hostbound-v00@openssh.com") + b"\x01" +
             wire_string("ssh-ed25519") + wire_string(key_blob) + wire_string(key_blob))
def der(tag, body):
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + body
oid = lambda text: der(6, bytes.fromhex(text))
attributes = der(0x31,
                 der(0x30, oid("2a864886f70d010903") + der(0x31, oid("2a864886f70d010701"))) +  # contentType data
                 der(0x30, oid("2a864886f70d010905") + der(0x31, der(0x18, b"20260101000000Z"))) +  # signingTime
                 der(0x30, oid("2a864886f70d010904") + der(0x31, der(4, hashlib.sha512(b"commit").digest()))))
sign = lambda data, flags=0: bytes([13]) + wire_string(key_blob) + wire_string(data) + struct.pack(">I", flags)
talk("ssh-auth", [sign(userauth), sign(hostbound)])
talk("cms-signed-attributes", [sign(attributes)])

listener.close()
broker.stop()

written = set()
def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
seen = {}
for name, frames in conversations:
    if not frames:
        continue
    seen[name] = seen.get(name, 0) + 1
    write(name if seen[name] == 1 else "%s-%d" % (name, seen[name]), b"".join(frames))
    for frame in frames:
        digest = hashlib.sha256(frame).hexdigest()
        if digest not in written and len(frames) > 1:
            written.add(digest)
            write("%s-type%d-%s" % (name, frame[4], digest[:8]), frame)
print("agent seeds: %d files in %s" % (len(os.listdir(out)), out))
