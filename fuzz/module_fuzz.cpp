// Random C_* call sequences against the real module over a real SoftHSM token, as a client
// that misuses the API would make them. The module must never crash, leak or hit undefined
// behaviour, and every signature it hands out (CKR_OK) must verify with the broker key over
// exactly the data given to that operation.
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/ed25519.h"
#include "core/pkcs11.h"

namespace {

using brokerkey::Bytes;

struct Harness {
  CK_FUNCTION_LIST* fn = nullptr;
  std::string pin;
  brokerkey::PublicKey key;
};
Harness* harness = nullptr;

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) __builtin_trap();
  char buffer[512];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  if (::pclose(pipe) != 0) {
    std::fprintf(stderr, "module_fuzz: '%s' failed: %s\n", command.c_str(), out.c_str());
    std::abort();
  }
  return out;
}

// The input, read as a program: an opcode byte, then its operands.
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
  Bytes signed_data;  // everything given to the active sign operation
};

void expect_verifies(const Bytes& data, const CK_BYTE* signature, CK_ULONG length) {
  if (length != 64 || !brokerkey::ed25519_verify(harness->key, data, brokerkey::ByteView(signature, 64))) {
    std::fprintf(stderr, "module_fuzz: a CKR_OK signature does not verify\n");
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char directory[] = "/tmp/brokerkey-fuzz-XXXXXX";
  if (!::mkdtemp(directory)) __builtin_trap();
  std::string dir = directory;
  ::setenv("BROKERKEY_LOG", "none", 1);
  // The instrumented keytool inherits this; SoftHSM's known key-generation leak is not ours.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  ::setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  std::string tool = BROKERKEY_TOOL;
  run(tool + " init --dir " + dir + "/broker --service fuzz --purpose signing --env test 2>&1");
  ::setenv("BROKERKEY_CONF", (dir + "/broker/brokerkey.conf").c_str(), 1);
  run(tool + " mint 2>&1");
  std::string added = run(tool + " consumer add fuzz 2>&1");
  ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
  harness = new Harness;
  std::size_t at = added.find("fuzz:");
  if (at == std::string::npos) __builtin_trap();
  harness->pin = added.substr(at, added.find_first_of(" \n", at) - at);

  void* module = ::dlopen(BROKERKEY_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  auto get_list = module ? reinterpret_cast<CK_C_GetFunctionList>(::dlsym(module, "C_GetFunctionList")) : nullptr;
  if (!get_list || get_list(&harness->fn) != CKR_OK) __builtin_trap();
  CK_FUNCTION_LIST* fn = harness->fn;
  CK_SESSION_HANDLE session = 0;
  CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE match{CKA_CLASS, &public_class, sizeof public_class};
  CK_OBJECT_HANDLE object = 0;
  CK_ULONG found = 0;
  CK_BYTE point[64];
  CK_ATTRIBUTE read{CKA_EC_POINT, point, sizeof point};
  if (fn->C_Initialize(nullptr) != CKR_OK || fn->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &session) != CKR_OK ||
      fn->C_FindObjectsInit(session, &match, 1) != CKR_OK || fn->C_FindObjects(session, &object, 1, &found) != CKR_OK ||
      found != 1 || fn->C_GetAttributeValue(session, object, &read, 1) != CKR_OK) {
    __builtin_trap();
  }
  harness->key = brokerkey::public_key_from_ec_point(brokerkey::ByteView(point, read.ulValueLen));
  fn->C_FindObjectsFinal(session);
  fn->C_Finalize(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CK_FUNCTION_LIST* fn = harness->fn;
  Reader in(data, size);
  std::vector<Session> sessions;
  std::vector<CK_OBJECT_HANDLE> objects;
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

  for (int steps = 0; !in.done() && steps < 64; ++steps) {
    switch (in.byte() % 16) {
      case 0: {
        CK_C_INITIALIZE_ARGS args{};
        args.flags = CKF_OS_LOCKING_OK;
        CK_RV rv = fn->C_Initialize(in.byte() & 1 ? &args : nullptr);
        if (rv == CKR_OK) initialized = true;
        break;
      }
      case 1:
        if (fn->C_Finalize(nullptr) == CKR_OK) {
          initialized = false;
          sessions.clear();
          objects.clear();
        }
        break;
      case 2: {
        CK_SESSION_HANDLE h = 0;
        std::uint8_t arg = in.byte();
        CK_FLAGS flags = (arg & 1 ? CKF_SERIAL_SESSION : 0) | (arg & 2 ? CKF_RW_SESSION : 0);
        if (fn->C_OpenSession(arg >> 2 & 3, flags, nullptr, nullptr, &h) == CKR_OK) {
          std::erase_if(sessions, [h](const Session& s) { return s.handle == h; });  // a reused handle
          sessions.push_back({h, {}});
        }
        break;
      }
      case 3:
        fn->C_CloseSession(handle_of(in.byte()));
        break;
      case 4:
        fn->C_CloseAllSessions(in.byte() & 3);
        break;
      case 5: {
        std::uint8_t arg = in.byte();
        Bytes wrong = in.bytes(arg >> 3);
        std::string pin = arg & 1 ? harness->pin : "fuzz:" + std::string(wrong.begin(), wrong.end());
        CK_SESSION_HANDLE h = handle_of(in.byte());
        fn->C_Login(h, arg & 2 ? CKU_SO : CKU_USER,
                    reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), static_cast<CK_ULONG>(pin.size()));
        break;
      }
      case 6:
        fn->C_Logout(handle_of(in.byte()));
        break;
      case 7: {
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_OBJECT_CLASS object_class = in.byte() % 5;
        CK_ATTRIBUTE match{CKA_CLASS, &object_class, sizeof object_class};
        bool with_template = in.byte() & 1;
        CK_ULONG template_count = in.byte() & 1;
        CK_ULONG most = in.byte() % 5;
        if (fn->C_FindObjectsInit(h, with_template ? &match : nullptr, template_count) == CKR_OK) {
          CK_OBJECT_HANDLE found[4];
          CK_ULONG count = 0;
          if (fn->C_FindObjects(h, found, most, &count) == CKR_OK) objects.insert(objects.end(), found, found + count);
          fn->C_FindObjectsFinal(h);
        }
        break;
      }
      case 8: {
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_OBJECT_HANDLE o = object(in.byte());
        std::uint8_t count = in.byte() % 4;
        std::vector<CK_ATTRIBUTE> attributes(count);
        std::vector<Bytes> buffers(count);
        for (std::size_t i = 0; i < count; ++i) {
          static constexpr CK_ATTRIBUTE_TYPE kTypes[] = {CKA_CLASS, CKA_LABEL, CKA_ID, CKA_EC_POINT, CKA_EC_PARAMS,
                                                        CKA_VALUE, CKA_KEY_TYPE, CKA_SIGN, CKA_PRIVATE, 0x80000000ul};
          std::uint8_t arg = in.byte();
          buffers[i].resize(in.byte() % 80);
          attributes[i] = {kTypes[arg % 10], arg & 0x80 ? nullptr : buffers[i].data(), buffers[i].size()};
        }
        fn->C_GetAttributeValue(h, o, attributes.data(), count);
        break;
      }
      case 9: {
        Session* s = session(in.byte());
        CK_MECHANISM mechanism{in.byte() & 1 ? CKM_EDDSA : CKM_ECDSA, nullptr, 0};
        CK_OBJECT_HANDLE key = object(in.byte());
        if (fn->C_SignInit(s ? s->handle : 0, &mechanism, key) == CKR_OK && s) s->signed_data.clear();
        break;
      }
      case 10:
      case 11: {
        bool single = in.byte() & 1;
        Session* s = session(in.byte());
        Bytes message = in.bytes(in.byte() % 48);
        CK_BYTE signature[80];
        CK_ULONG length = in.byte() % 80;
        bool query = length == 0;
        CK_SESSION_HANDLE h = s ? s->handle : 0;
        if (single) {
          CK_RV rv = fn->C_Sign(h, message.data(), static_cast<CK_ULONG>(message.size()), query ? nullptr : signature, &length);
          if (rv == CKR_OK && !query && s) expect_verifies(message, signature, length);
        } else if (fn->C_SignUpdate(h, message.data(), static_cast<CK_ULONG>(message.size())) == CKR_OK && s) {
          s->signed_data.insert(s->signed_data.end(), message.begin(), message.end());
        }
        break;
      }
      case 12: {
        Session* s = session(in.byte());
        CK_BYTE signature[80];
        CK_ULONG length = in.byte() % 80;
        bool query = length == 0;
        CK_RV rv = fn->C_SignFinal(s ? s->handle : 0, query ? nullptr : signature, &length);
        if (rv == CKR_OK && !query && s) expect_verifies(s->signed_data, signature, length);
        break;
      }
      case 13: {
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_MECHANISM mechanism{CKM_EDDSA, nullptr, 0};
        CK_OBJECT_HANDLE key = object(in.byte());
        if (fn->C_VerifyInit(h, &mechanism, key) == CKR_OK) {
          Bytes message = in.bytes(in.byte() % 32);
          Bytes signature = in.bytes(in.byte() % 70);
          fn->C_Verify(h, message.data(), static_cast<CK_ULONG>(message.size()), signature.data(),
                       static_cast<CK_ULONG>(signature.size()));
        }
        break;
      }
      case 14: {
        CK_SESSION_HANDLE h = handle_of(in.byte());
        CK_OBJECT_HANDLE o = object(in.byte());
        CK_BBOOL yes = CK_TRUE;
        CK_ATTRIBUTE attribute{CKA_EXTRACTABLE, &yes, sizeof yes};
        if (fn->C_SetAttributeValue(h, o, &attribute, 1) == CKR_OK || fn->C_DestroyObject(h, o) == CKR_OK) {
          std::fprintf(stderr, "module_fuzz: a write was accepted\n");
          __builtin_trap();
        }
        break;
      }
      case 15: {
        CK_SLOT_ID slots[4];
        CK_ULONG count = in.byte() % 5;
        CK_BBOOL present = in.byte() & 1;
        bool query = in.byte() & 1;
        fn->C_GetSlotList(present, query ? nullptr : slots, &count);
        CK_TOKEN_INFO token;
        fn->C_GetTokenInfo(in.byte() % 4, &token);
        CK_SESSION_INFO info;
        fn->C_GetSessionInfo(handle_of(in.byte()), &info);
        CK_MECHANISM_TYPE mechanisms[4];
        CK_ULONG mechanism_count = in.byte() % 5;
        fn->C_GetMechanismList(in.byte() % 3, mechanisms, &mechanism_count);
        break;
      }
    }
  }
  if (initialized) fn->C_Finalize(nullptr);
  return 0;
}
