#include "core/backend_module.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <tuple>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "core/unique_fd.h"

namespace brokerkey {

namespace {

class EnvOverride {
 public:
  explicit EnvOverride(const std::map<std::string, std::string>& env) {
    for (const auto& [name, value] : env) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  EnvOverride(const EnvOverride&) = delete;
  EnvOverride& operator=(const EnvOverride&) = delete;
  ~EnvOverride() {
    for (const auto& [name, old] : saved_) {
      if (old) {
        ::setenv(name.c_str(), old->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// The shared object this code was linked into (the module, or the keytool).
const void* own_object_base() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&own_object_base), &info) == 0) return nullptr;
  return info.dli_fbase;
}

// The file this code was linked into, by identity: loading it as the backend would recurse.
// Read from the mapping in /proc/self/maps (device and inode of what is mapped), not from its
// name: a module loaded from a copy is named /proc/self/fd/N, a number reused once closed.
bool is_own_object(const struct stat& file) {
  auto base = reinterpret_cast<std::uintptr_t>(own_object_base());
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (!maps) return false;
  bool own = false;
  char line[4096];
  while (std::fgets(line, sizeof line, maps)) {
    unsigned long start = 0, end = 0, offset = 0, inode = 0;
    unsigned major_id = 0, minor_id = 0;
    if (std::sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &major_id, &minor_id, &inode) != 6) continue;
    if (base < start || base >= end) continue;
    own = inode == file.st_ino && makedev(major_id, minor_id) == file.st_dev;
    break;
  }
  std::fclose(maps);
  return own;
}

// Copies the checked file, from offset 0 through its descriptor, into `to`: in the kernel
// (sendfile), not through a buffer of this process — a backend is megabytes, and every
// C_Initialize of a fresh process pays this. The checked size is what is copied, and the file
// must still have it.
void copy_file(const TrustedFile& from, int to) {
  const off_t size = from.info().st_size;
  off_t offset = 0;
  while (offset < size) {
    ssize_t n = ::sendfile(to, from.fd(), &offset, static_cast<std::size_t>(size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw config_bad("cannot copy backend module " + from.path().string() + ": " +
                       (n < 0 ? std::strerror(errno) : "it became shorter while being copied"));
    }
  }
  struct stat now {};
  if (::fstat(from.fd(), &now) != 0 || now.st_size != size || now.st_mtim.tv_sec != from.info().st_mtim.tv_sec ||
      now.st_mtim.tv_nsec != from.info().st_mtim.tv_nsec) {
    throw config_bad("backend module " + from.path().string() + " changed while being copied");
  }
}

// The backend is loaded from a private, sealed copy of the file that open_trusted checked:
// 1. what runs is exactly what was checked (no name is looked up again), and
// 2. it is an instance of its own. The dynamic loader shares one copy of a library file per
//    process (matched by name and by device/inode), so had the backend been dlopen'ed by its
//    path, any other user of the same file in the process (p11-kit's registration of SoftHSM)
//    would share its state, including the backend login (issue 11 §6). A copy in a memfd is
//    another file to the loader: nobody else can name it, so nobody else shares it.
// One copy per file version per process (RTLD_NODELETE keeps it), so C_Initialize after
// C_Finalize reuses it, as a plain dlopen would have. Its memfd stays open (close-on-exec) for
// the life of the process: the loader also matches objects by name, and a closed descriptor's
// number, reused for the next copy, would make dlopen return the earlier object.
void* load_private_copy(const fs::path& path) {
  TrustedFile file = open_trusted(path);
  const struct stat& info = file.info();
  if (is_own_object(info)) throw config_bad("backend module " + path.string() + " is brokerkey itself");
  using Key = std::tuple<dev_t, ino_t, off_t, std::int64_t, std::int64_t>;
  static std::mutex mutex;
  static std::map<Key, void*> loaded;  // never emptied: the copies stay loaded and open
  Key key{info.st_dev, info.st_ino, info.st_size, info.st_mtim.tv_sec, info.st_mtim.tv_nsec};
  std::lock_guard lock(mutex);
  if (auto it = loaded.find(key); it != loaded.end()) return it->second;

  UniqueFd copy(::memfd_create(path.filename().c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) throw config_bad("cannot copy backend module " + path.string() + ": memfd_create failed");
  copy_file(file, copy.get());
  ::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  std::string name = "/proc/self/fd/" + std::to_string(copy.get());
  // RTLD_NODELETE: many modules (SoftHSM among them) do not survive being unloaded and loaded
  // again in one process; p11-kit keeps them loaded too.
  void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) {
    const char* why = ::dlerror();
    throw config_bad("cannot load backend module " + path.string() + " (from its checked copy " + name +
                     "; /proc must be mounted): " + (why ? why : "?"));
  }
  loaded[key] = handle;
  [[maybe_unused]] int kept_open = copy.release();
  return handle;
}

std::vector<CK_SLOT_ID> slots(CK_FUNCTION_LIST* fn) {
  CK_ULONG count = 0;
  check_backend(fn->C_GetSlotList(CK_FALSE, nullptr, &count), "C_GetSlotList");
  std::vector<CK_SLOT_ID> ids(count);
  check_backend(fn->C_GetSlotList(CK_FALSE, ids.data(), &count), "C_GetSlotList");
  ids.resize(count);
  return ids;
}

}  // namespace

void check_backend(CK_RV rv, const char* call, std::string_view module) {
  if (rv != CKR_OK) throw backend_failed(std::string(module) + " " + call + " failed", rv);
}

CK_UTF8CHAR_PTR pin_pointer(std::string_view pin) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data()));
}

CK_RV log_in(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session, CK_USER_TYPE type, std::string_view pin) {
  return fn->C_Login(session, type, pin_pointer(pin), static_cast<CK_ULONG>(pin.size()));
}

std::optional<std::vector<unsigned char>> read_attribute(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                                         CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE query{type, nullptr, 0};
  if (fn->C_GetAttributeValue(session, object, &query, 1) != CKR_OK ||
      query.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return std::nullopt;
  }
  std::vector<unsigned char> value(query.ulValueLen);
  query.pValue = value.data();
  check_backend(fn->C_GetAttributeValue(session, object, &query, 1), "C_GetAttributeValue");
  value.resize(query.ulValueLen);
  return value;
}

std::vector<CK_OBJECT_HANDLE> find_objects(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                           std::vector<CK_ATTRIBUTE> match) {
  check_backend(fn->C_FindObjectsInit(session, match.data(), static_cast<CK_ULONG>(match.size())),
                "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> found;
  CK_RV rv = CKR_OK;
  for (;;) {
    CK_OBJECT_HANDLE batch[32];
    CK_ULONG count = 0;
    rv = fn->C_FindObjects(session, batch, 32, &count);
    if (rv != CKR_OK || count == 0) break;
    found.insert(found.end(), batch, batch + count);
  }
  fn->C_FindObjectsFinal(session);
  check_backend(rv, "C_FindObjects");
  return found;
}

std::string trim_padded(const unsigned char* field, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(field), size);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

BackendModule::BackendModule(const fs::path& path, const std::map<std::string, std::string>& env,
                             std::string_view role)
    : path_(path) {
  if (role == "backend") {
    try {
      handle_ = load_private_copy(path);
    } catch (const Error& e) {
      throw config_bad(std::string("backend module: ") + e.what());
    }
    shared_copy_ = true;
  } else {
    // A client loading brokerkey's own module, by the path the user gave.
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle_) {
      const char* why = ::dlerror();
      throw config_bad("cannot load " + std::string(role) + " module " + path.string() + ": " +
                       (why ? why : "?"));
    }
  }
  try {
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle_, "C_GetFunctionList"));
    if (!get_list) throw config_bad(std::string(role) + " module " + path.string() + " has no C_GetFunctionList");
    Dl_info info{};
    if (::dladdr(reinterpret_cast<const void*>(get_list), &info) != 0 &&
        info.dli_fbase == own_object_base()) {
      throw config_bad("backend module " + path.string() + " is brokerkey itself");
    }
    check_backend(get_list(&functions_), "C_GetFunctionList");
    if (!functions_) throw config_bad("backend module returned no function list");

    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv;
    {
      EnvOverride override_env(env);
      rv = functions_->C_Initialize(&args);
    }
    if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      check_backend(rv, "C_Initialize");
      we_initialized_ = true;
    }
  } catch (...) {
    if (!shared_copy_) ::dlclose(handle_);
    throw;
  }
}

BackendModule::~BackendModule() {
  if (we_initialized_) functions_->C_Finalize(nullptr);
  if (!shared_copy_) ::dlclose(handle_);
}

CK_SLOT_ID BackendModule::slot_of_token(std::string_view label) const {
  for (CK_SLOT_ID slot : slots(functions_)) {
    CK_TOKEN_INFO info{};
    if (functions_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) &&
        trim_padded(info.label, sizeof info.label) == label) {
      return slot;
    }
  }
  throw not_found("backend token '" + std::string(label) + "' not found in " + path_.string() +
                  (we_initialized_ ? "" : " (the module was already initialised in this process,"
                                          " possibly with another configuration)"));
}

CK_SLOT_ID BackendModule::free_slot() const {
  for (CK_SLOT_ID slot : slots(functions_)) {
    CK_TOKEN_INFO info{};
    if (functions_->C_GetTokenInfo(slot, &info) == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED)) {
      return slot;
    }
  }
  throw not_found("backend module " + path_.string() + " has no free slot for a new token");
}

}  // namespace brokerkey
