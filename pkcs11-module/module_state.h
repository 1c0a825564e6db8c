// Everything the module holds between C_Initialize and C_Finalize. A call takes a shared
// reference to it, so C_Finalize never pulls state from under a call in flight, and no global
// lock is held while the backend or the agent works.
#pragma once

#include <memory>
#include <mutex>

#include "core/config.h"
#include "key_source.h"
#include "sessions.h"
#include "token_view.h"

namespace brokerkey {

class ModuleState {
 public:
  // The configuration's mode picks the key source: embedded or client (key_source.h).
  explicit ModuleState(Config config);
  // A state with the given source, for a process with no configuration
  // (make_unconfigured_source; `config` is then the defaults).
  ModuleState(Config config, std::unique_ptr<KeySource> source);

  const Config& config() const { return config_; }
  KeySource& source() { return *source_; }
  SessionTable& sessions() { return sessions_; }
  // What the slots show now, for calls about slots and tokens: an unreachable broker shows
  // no token.
  std::shared_ptr<const TokenView> view() { return source_->view(); }
  // The same for calls on an open session, which throw the view's Error (CKR_DEVICE_REMOVED
  // for an agent that is down) when the broker cannot be reached.
  std::shared_ptr<const TokenView> session_view();

 private:
  Config config_;
  std::unique_ptr<KeySource> source_;
  SessionTable sessions_;
};

// The process-wide instance. current_state() throws CKR_CRYPTOKI_NOT_INITIALIZED when there
// is none.
void install_state(std::shared_ptr<ModuleState> state);
std::shared_ptr<ModuleState> current_state();
std::shared_ptr<ModuleState> take_state();
bool state_installed();

}  // namespace brokerkey
