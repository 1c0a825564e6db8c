// Random C_* call sequences against the real module over a real SoftHSM token, as a client
// that misuses the API would make them. The module must never crash, leak or hit undefined
// behaviour, and what it answers must hold: a CKR_OK signature verifies with the broker key
// over exactly the data given to that operation; C_Verify agrees with Ed25519; a wrong PIN or
// the SO never logs in; only a logged-in session can start signing; no attribute overruns its
// buffer and the private key's CKA_VALUE is never shown; every write is refused.
#include <dlfcn.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/ed25519.h"
#include "core/pkcs11.h"
#include "temp_dir.h"

namespace {

using brokerkey::Bytes;

struct Harness {
  TempDir dir;  // the broker; removed when the fuzzer exits
  CK_FUNCTION_LIST* fn = nullptr;
  std::string pin;
  brokerkey::PublicKey key;
};
Harness* harness = nullptr;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "module_fuzz: %s\n", what);
  __builtin_trap();
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) finding("popen failed");
  char buffer[512];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  if (::pclose(pipe) != 0) {
    std::fprintf(stderr, "module_fuzz: '%s' failed: %s\n", command.c_str(), out.c_str());
    std::abort();
  }
  return out;
}

// The input, read as a program: an opcode byte, then its operands (zeros past the end).
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  Bytes bytes(std::size_t n) {
    Bytes out;
    while (n-- > 0 && !done()) out.push_back(byte());
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

struct Session {
  CK_SESSION_HANDLE handle;
  Bytes signed_data;  // everything given to the active multi-part sign operation
};

bool verifies(const Bytes& data, const CK_BYTE* signature, CK_ULONG length) {
  return length == 64 &&
         brokerkey::ed25519_verify(harness->key, data, brokerkey::ByteView(signature, 64));
}

// With a healthy backend these answers mean a module bug (BROKERKEY_LOG=stderr names the call).
CK_RV sane(CK_RV rv) {
  if (rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR || rv == CKR_FUNCTION_FAILED) {
    finding("a call failed as if the backend had");
  }
  return rv;
}

// A data pointer as a careless client passes it: the real one, or NULL with the length kept.
CK_BYTE_PTR maybe_null(Bytes& data, bool null) { return null ? nullptr : data.data(); }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  harness = new Harness;
  std::atexit([] { delete harness; });
  std::string dir = harness->dir.path().string();
  ::setenv("BROKERKEY_LOG", "none", 0);  // BROKERKEY_LOG=stderr BROKERKEY_DEBUG=1 traces a finding
  // The instrumented keytool inherits this; SoftHSM's known key-generation leak is not ours.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  std::string tool = BROKERKEY_TOOL;
  run(tool + " init --dir " + dir + "/broker --service fuzz --purpose signing --env test 2>&1");
  ::setenv("BROKERKEY_CONF", (dir + "/broker/brokerkey.conf").c_str(), 1);
  run(tool + " mint 2>&1");
  std::string added = run(tool + " consumer add fuzz 2>&1");
  std::string ledger_key = run(tool + " pubkey --format fingerprint 2>&1");
  ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
  std::size_t at = added.find("fuzz:");
  if (at == std::string::npos) finding("no PIN from 'consumer add'");
  harness->pin = added.substr(at, added.find_first_of(" \n", at) - at);

  void* module = ::dlopen(BROKERKEY_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  auto get_list = module
                      ? reinterpret_cast<CK_C_GetFunctionList>(::dlsym(module, "C_GetFunctionList"))
                      : nullptr;
  if (!get_list || get_list(&harness->fn) != CKR_OK) finding("cannot load the module");
  CK_FUNCTION_LIST* fn = harness->fn;
  CK_SESSION_HANDLE session = 0;
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE match{CKA_CLASS, &public_class, sizeof public_class};
  CK_OBJECT_HANDLE object = 0;
  CK_ULONG found = 0;
  CK_BYTE point[64];
  CK_ATTRIBUTE read{CKA_EC_POINT, point, sizeof point};
  if (fn->C_Initialize(nullptr) != CKR_OK ||
      fn->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK ||
      fn->C_FindObjectsInit(session, &match, 1) != CKR_OK ||
      fn->C_FindObjects(session, &object, 1, &found) != CKR_OK || found != 1 ||
      fn->C_GetAttributeValue(session, object, &read, 1) != CKR_OK) {
    finding("the broker's public key cannot be read");
  }
  harness->key = brokerkey::public_key_from_ec_point(brokerkey::ByteView(point, read.ulValueLen));
  if (ledger_key.find(brokerkey::fingerprint_of(harness->key).hex()) == std::string::npos) {
    finding("the module shows another key than the ledger names");
  }
  fn->C_FindObjectsFinal(session);
  fn->C_Finalize(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CK_FUNCTION_LIST* fn = harness->fn;
  Reader in(data, size);
  std::vector<Session> sessions;
  std::vector<CK_OBJECT_HANDLE> objects;
  Bytes last_message, last_signature;  // the last signature the module handed out
  bool initialized = false;
  auto session = [&](std::uint8_t pick) -> Session* {
    if (sessions.empty() || pick == 0xff) return nullptr;
    return &sessions[pick % sessions.size()];
  };
  auto handle_of = [&](std::uint8_t pick) -> CK_SESSION_HANDLE {
    Session* s = session(pick);
    return s ? s->handle : pick;  // 0xff and no sessions: an invalid handle
  };
  auto object = [&](std::uint8_t pick) -> CK_OBJECT_HANDLE {
    return objects.empty() || pick == 0xff ? pick : objects[pick % objects.size()];
  };
  auto expect_signature = [&](const Bytes& message, const CK_BYTE* signature, CK_ULONG length) {
    if (!verifies(message, signature, length)) finding("a CKR_OK signature does not verify");
    last_message = message;
    last_signature.assign(signature, signature + length);
  };
  auto expect_size_answer = [&](CK_RV rv, bool query, CK_ULONG length) {
    if (((rv == CKR_OK && query) || rv == CKR_BUFFER_TOO_SMALL) && length != 64) {
      finding("a size answer is not 64");
    }
  };

  for (int steps = 0; !in.done() && steps < 64; ++steps) {
    switch (in.byte() % 16) {
      case 0: {
        std::uint8_t arg = in.byte();
        CK_C_INITIALIZE_ARGS args{};
        args.flags = arg & 2 ? CKF_OS_LOCKING_OK : 0;
        args.pReserved = arg & 4 ? &args : nullptr;
        CK_RV rv = sane(fn->C_Initialize(arg & 1 ? &args : nullptr));
        if (rv == CKR_OK && (arg & 5) == 5) finding("C_Initialize accepted pReserved");
        if (rv == CKR_OK) initialized = true;
        break;
      }
      case 1: {
        bool reserved = in.byte() & 1;
        if (sane(fn->C_Finalize(reserved ? &sessions : nullptr)) == CKR_OK) {
          if (reserved) finding("C_Finalize accepted pReserved");
          initialized = false;
          sessions.clear();
          objects.clear();
        }
        break;
      }
      case 2: {
        CK_SESSION_HANDLE h = 0;
        std::uint8_t arg = in.byte();
        CK_FLAGS flags = (arg & 1 ? CKF_SERIAL_SESSION : 0) | (arg & 2 ? CKF_RW_SESSION : 0);
        if (sane(fn->C_OpenSession(arg >> 2 & 3, flags, nullptr, nullptr, &h)) == CKR_OK) {
          // A handle the module reuses names a new session.
          std::erase_if(sessions, [h](const Session& s) { return s.handle == h; });
          sessions.push_back({h, {}});
        }
        break;
      }
      case 3:
        sane(fn->C_CloseSession(handle_of(in.byte())));
        break;
      case 4:
        sane(fn->C_CloseAllSessions(in.byte() & 3));
        break;
      case 5: {
        std::uint8_t arg = in.byte();
        Bytes noise = in.bytes(arg >> 4);
        std::string pin = harness->pin;
        bool right = (arg & 12) == 0;
        if (arg & 4) pin.back() ^= 1;  // the right name, a wrong secret
        if (arg & 8) pin = "fuzz:" + std::string(noise.begin(), noise.end());  // anything
        CK_USER_TYPE user = arg & 2 ? CKU_SO : CKU_USER;
        bool null_pin = (arg & 1) && !right;
        CK_RV rv =
            sane(fn->C_Login(handle_of(in.byte()), user,
                             null_pin ? nullptr : reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()),
                             static_cast<CK_ULONG>(pin.size())));
        if (rv == CKR_OK && (user == CKU_SO || null_pin || pin != harness->pin)) {
          finding("a wrong login succeeded");
        }
        break;
      }
      case 6:
        sane(fn->C_Logout(handle_of(in.byte())));
        break;
      case 7: {
        // A template of up to three fuzzed attributes (the comparison hooks find real values).
        static constexpr CK_ATTRIBUTE_TYPE kTypes[] = {CKA_CLASS, CKA_KEY_TYPE, CKA_ID,
                                                       CKA_LABEL, CKA_VALUE,    CKA_SIGN};
        CK_SESSION_HANDLE h = handle_of(in.byte());
        std::uint8_t arg = in.byte();
        CK_ULONG count = arg & 3;
        std::vector<CK_ATTRIBUTE> match(count);
        std::vector<Bytes> values(count);
        for (CK_ULONG i = 0; i < count; ++i) {
          std::uint8_t pick = in.byte();
          values[i] = in.bytes(in.byte() % 40);
          match[i] = {kTypes[pick % 6], pick & 0x80 ? nullptr : values[i].data(), values[i].size()};
        }
        CK_ULONG most = in.byte() % 5;
        if (sane(fn->C_FindObjectsInit(h, arg & 4 ? nullptr : match.data(), count)) == CKR_OK) {
          CK_OBJECT_HANDLE found[4];
          CK_ULONG got = 0;
          if (sane(fn->C_FindObjects(h, found, most, &got)) == CKR_OK) {
            if (got > most) finding("C_FindObjects overran its array");
            objects.insert(objects.end(), found, found + got);
          }
          sane(fn->C_FindObjectsFinal(h));
        }
        break;
      }
      case 8: {
        static constexpr CK_ATTRIBUTE_TYPE kTypes[] = {
            CKA_CLASS, CKA_LABEL,    CKA_ID,   CKA_EC_POINT, CKA_EC_PARAMS,
            CKA_VALUE, CKA_KEY_TYPE, CKA_SIGN, CKA_PRIVATE,  0x80000000ul};
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_OBJECT_HANDLE o = object(in.byte());
        std::uint8_t arg = in.byte();
        CK_ULONG count = arg % 4;
        std::vector<CK_ATTRIBUTE> attributes(count);
        std::vector<Bytes> buffers(count);
        for (std::size_t i = 0; i < count; ++i) {
          std::uint8_t pick = in.byte();
          buffers[i].resize(in.byte() % 80);
          attributes[i] = {kTypes[pick % 10], pick & 0x80 ? nullptr : buffers[i].data(),
                           buffers[i].size()};
        }
        CK_RV rv =
            sane(fn->C_GetAttributeValue(h, o, arg & 4 ? nullptr : attributes.data(), count));
        // Only these four answers say every attribute was processed (PKCS#11 2.40, 5.7).
        bool processed = rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE ||
                         rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL;
        for (std::size_t i = 0; i < count && processed; ++i) {
          CK_ULONG length = attributes[i].ulValueLen;
          if (attributes[i].pValue && length != CK_UNAVAILABLE_INFORMATION &&
              length > buffers[i].size()) {
            finding("an attribute length exceeds its buffer");
          }
          if (attributes[i].type == CKA_VALUE && length != CK_UNAVAILABLE_INFORMATION) {
            finding("CKA_VALUE was revealed (this broker has no certificate)");
          }
        }
        break;
      }
      case 9: {
        Session* s = session(in.byte());
        std::uint8_t arg = in.byte();
        CK_EDDSA_PARAMS params{static_cast<CK_BBOOL>(arg >> 2 & 1), 0, nullptr};
        CK_MECHANISM mechanism{arg & 1 ? CKM_EDDSA : CKM_ECDSA, arg & 2 ? &params : nullptr,
                               arg & 2 ? sizeof params : 0};
        CK_SESSION_HANDLE h = s ? s->handle : 0;
        if (sane(fn->C_SignInit(h, arg & 8 ? nullptr : &mechanism, object(in.byte()))) == CKR_OK) {
          CK_SESSION_INFO info{};
          if (!s || sane(fn->C_GetSessionInfo(h, &info)) != CKR_OK ||
              (info.state != CKS_RO_USER_FUNCTIONS && info.state != CKS_RW_USER_FUNCTIONS)) {
            finding("C_SignInit succeeded without a login");
          }
          s->signed_data.clear();
        }
        break;
      }
      case 10: {
        Session* s = session(in.byte());
        std::uint8_t arg = in.byte();
        Bytes message = in.bytes(in.byte() % 48);
        CK_BYTE signature[80];
        CK_ULONG length = in.byte() % 80;
        bool query = arg & 1;
        CK_RV rv = sane(fn->C_Sign(s ? s->handle : 0, maybe_null(message, arg & 2),
                                   static_cast<CK_ULONG>(message.size()),
                                   query ? nullptr : signature, arg & 4 ? nullptr : &length));
        if (rv == CKR_OK && !query) expect_signature(message, signature, length);
        expect_size_answer(rv, query, length);
        break;
      }
      case 11: {
        Session* s = session(in.byte());
        std::uint8_t arg = in.byte();
        Bytes part = in.bytes(in.byte() % 48);
        if (sane(fn->C_SignUpdate(s ? s->handle : 0, maybe_null(part, arg & 1),
                                  static_cast<CK_ULONG>(part.size()))) == CKR_OK &&
            s) {
          s->signed_data.insert(s->signed_data.end(), part.begin(), part.end());
        }
        break;
      }
      case 12: {
        Session* s = session(in.byte());
        std::uint8_t arg = in.byte();
        CK_BYTE signature[80];
        CK_ULONG length = in.byte() % 80;
        bool query = arg & 1;
        CK_RV rv = sane(fn->C_SignFinal(s ? s->handle : 0, query ? nullptr : signature,
                                        arg & 4 ? nullptr : &length));
        if (rv == CKR_OK && !query && s) expect_signature(s->signed_data, signature, length);
        expect_size_answer(rv, query, length);
        break;
      }
      case 13: {
        // Verify fuzzed bytes, or the last signature handed out, possibly with one bit flipped.
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_MECHANISM mechanism{CKM_EDDSA, nullptr, 0};
        CK_OBJECT_HANDLE key = object(in.byte());
        std::uint8_t arg = in.byte();
        Bytes message = in.bytes(in.byte() % 32);
        Bytes signature = in.bytes(in.byte() % 70);
        if (arg & 1 && !last_signature.empty()) {
          message = last_message;
          signature = last_signature;
          if (arg & 2) signature[arg >> 2 & 63] ^= 0x20;
        }
        bool null_data = arg & 0x80 && !message.empty();
        if (sane(fn->C_VerifyInit(h, &mechanism, key)) == CKR_OK) {
          CK_RV rv = sane(fn->C_Verify(h, maybe_null(message, null_data),
                                       static_cast<CK_ULONG>(message.size()), signature.data(),
                                       static_cast<CK_ULONG>(signature.size())));
          bool good = !null_data &&
                      verifies(message, signature.data(), static_cast<CK_ULONG>(signature.size()));
          if ((rv == CKR_OK) != good) finding("C_Verify disagrees with Ed25519");
        }
        break;
      }
      case 14: {
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_OBJECT_HANDLE o = object(in.byte());
        CK_BBOOL yes = CK_TRUE;
        CK_ATTRIBUTE attribute{CKA_EXTRACTABLE, &yes, sizeof yes};
        CK_OBJECT_HANDLE made = 0, made_private = 0;
        CK_MECHANISM generate{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
        CK_UTF8CHAR pin[] = "1234";
        if (sane(fn->C_SetAttributeValue(h, o, &attribute, 1)) == CKR_OK ||
            sane(fn->C_DestroyObject(h, o)) == CKR_OK ||
            sane(fn->C_CreateObject(h, &attribute, 1, &made)) == CKR_OK ||
            sane(fn->C_CopyObject(h, o, &attribute, 1, &made)) == CKR_OK ||
            sane(fn->C_GenerateKeyPair(h, &generate, nullptr, 0, nullptr, 0, &made,
                                       &made_private)) == CKR_OK ||
            sane(fn->C_SetPIN(h, pin, 4, pin, 4)) == CKR_OK ||
            sane(fn->C_InitPIN(h, pin, 4)) == CKR_OK) {
          finding("a write was accepted");
        }
        break;
      }
      case 15: {
        CK_SLOT_ID slots[4];
        CK_ULONG count = in.byte() % 5;
        CK_BBOOL present = in.byte() & 1;
        bool query = in.byte() & 1;
        if (sane(fn->C_GetSlotList(present, query ? nullptr : slots, &count)) == CKR_OK && !query &&
            count > 4) {
          finding("C_GetSlotList overran its array");
        }
        CK_TOKEN_INFO token;
        sane(fn->C_GetTokenInfo(in.byte() % 4, &token));
        CK_SESSION_INFO info;
        sane(fn->C_GetSessionInfo(handle_of(in.byte()), &info));
        CK_MECHANISM_TYPE mechanisms[4];
        CK_ULONG mechanism_count = in.byte() % 5;
        sane(fn->C_GetMechanismList(in.byte() % 3, mechanisms, &mechanism_count));
        break;
      }
    }
  }
  if (initialized) sane(fn->C_Finalize(nullptr));
  return 0;
}
