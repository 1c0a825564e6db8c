// The one error type of brokerkey. It carries the PKCS#11 return code the module reports, a
// message the keytool prints, and where it was raised. Errors are made by the named factories
// below so that every code is chosen in one obvious place.
#pragma once

#include <stdexcept>
#include <string>

#include "core/pkcs11.h"

namespace brokerkey {

// std::source_location's file and line, from the builtins both gcc and clang 14 have (clang
// 14 cannot compile libstdc++'s <source_location>, and the fuzz build uses it).
struct Loc {
  const char* file = "";
  int line_number = 0;
  static constexpr Loc current(const char* file = __builtin_FILE(), int line = __builtin_LINE()) noexcept {
    return Loc{file, line};
  }
  const char* file_name() const noexcept { return file; }
  int line() const noexcept { return line_number; }
};

class Error : public std::runtime_error {
 public:
  Error(CK_RV rv, const std::string& message, Loc where = Loc::current());

  CK_RV rv() const noexcept { return rv_; }
  const Loc& where() const noexcept { return where_; }

 private:
  CK_RV rv_;
  Loc where_;
};

// Misuse by the caller.
Error arguments_bad(const std::string& what, Loc where = Loc::current());
Error not_found(const std::string& what, Loc where = Loc::current());
Error already_exists(const std::string& what, Loc where = Loc::current());
Error invalid_input(const std::string& what, Loc where = Loc::current());
// Refused by policy: something brokerkey never does.
Error action_prohibited(const std::string& what, Loc where = Loc::current());
// Something outside brokerkey failed or disagrees with the ledger.
Error config_bad(const std::string& what, Loc where = Loc::current());
Error file_error(const std::string& what, Loc where = Loc::current());
Error backend_failed(const std::string& what, CK_RV backend_rv, Loc where = Loc::current());
Error integrity_failed(const std::string& what, Loc where = Loc::current());
Error crypto_failed(const std::string& what, Loc where = Loc::current());

// The symbolic name of a return code, "CKR_PIN_INCORRECT"; hex for codes it does not know.
std::string rv_name(CK_RV rv);

}  // namespace brokerkey
