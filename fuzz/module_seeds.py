# Writes module_fuzz's seed programs into DIR (default fuzz/corpus/module): readable sources for
# the binary seeds, to run again when the opcode table in module_fuzz.cpp changes.
# Usage: python3 fuzz/module_seeds.py [DIR]
import os, sys
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "module")
def init(arg=0): return [0, arg]
def fin(arg=0): return [1, arg]
def open_(slot=0, rw=False): return [2, 1 | (2 if rw else 0) | (slot << 2)]
def close(pick=0): return [3, pick]
def close_all(slot=0): return [4, slot]
def login(arg=0, pick=0, noise=b""): return [5, arg | (len(noise) << 4)] + list(noise) + [pick]
def logout(pick=0): return [6, pick]
def find(pick=0, attrs=(), most=4, null=False):
    b = [7, pick, len(attrs) | (4 if null else 0)]
    for t, v in attrs: b += [t, len(v)] + list(v)
    return b + [most]
def getattr_(pick, obj, attrs, null=False):
    b = [8, pick, obj, len(attrs) | (4 if null else 0)]
    for t, size in attrs: b += [t, size]
    return b
def sign_init(pick=0, arg=1, obj=1): return [9, pick, arg, obj]
def sign(msg, siglen=64, arg=0, pick=0): return [10, pick, arg, len(msg)] + list(msg) + [siglen]
def update(part, arg=0, pick=0): return [11, pick, arg, len(part)] + list(part)
def final(siglen=64, arg=0, pick=0): return [12, pick, arg, siglen]
def verify(arg, msg=b"", sig=b"", pick=0, obj=0): return [13, pick, obj, arg, len(msg)] + list(msg) + [len(sig)] + list(sig)
def writes(pick=0, obj=1): return [14, pick, obj]
def info(): return [15, 4, 1, 0, 0, 0, 4, 0]
ready = init() + open_() + login() + find()
seeds = {
  "sign-single-part": ready + sign_init() + sign(b"hello") + verify(1) + fin(),
  "sign-multi-part": ready + sign_init() + update(b"abc") + update(b"de") + final() + verify(1) + fin(),
  "size-query-and-too-small": ready + sign_init() + sign(b"x", 0, arg=1) + sign(b"x", 10) + sign(b"x")
      + verify(1 | 2 | (5 << 2)) + sign_init() + final(0, arg=1) + final(63) + final() + fin(),
  "misuse-null-pointers": ready + sign_init(arg=1 | 8) + sign_init() + sign(b"abc", arg=2) + sign_init()
      + update(b"abc", arg=1) + final() + sign_init() + sign(b"x", arg=4) + verify(0x80, b"abc", bytes(64))
      + getattr_(0, 1, [(0, 8)], null=True) + find(null=True, attrs=[(0, b"")]) + fin(1) + fin(),
  "misuse-login-and-sessions": init() + open_() + login(2) + login(4) + login(8, noise=b"guess") + login(1 | 8)
      + sign_init() + find() + sign_init() + open_(rw=True) + login() + logout(1) + sign_init() + login(0, 1)
      + close(0) + sign_init(0) + close_all() + sign_init() + open_(1) + open_(3) + writes() + info() + fin(),
  "attributes": ready + getattr_(0, 1, [(5, 79), (2, 32), (3, 10)]) + getattr_(0, 0, [(3, 44), (4, 79), (0x80 | 1, 0)])
      + getattr_(0, 0, [(9, 8), (0, 7), (0, 8)]) + writes() + writes(obj=0) + logout() + getattr_(0, 1, [(0, 8)]) + fin(),
  "initialize-twice-and-args": init(1 | 2) + init() + init(1 | 4) + fin(1) + fin() + fin() + init(1) + info() + fin(),
  "crash-empty-message": ready + sign_init() + final() + sign_init() + sign(b"", arg=2) + fin(),
  "verify-fuzzed": init() + open_() + find() + verify(0, b"message", bytes(range(64))) + verify(0, b"", bytes(63)) + fin(),
}
os.makedirs(out, exist_ok=True)
for name, program in seeds.items():
    open(os.path.join(out, name), "wb").write(bytes(program))
