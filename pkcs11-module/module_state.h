// Everything the module holds between C_Initialize and C_Finalize. A call takes a shared
// reference to it, so C_Finalize never pulls state from under a call in flight, and no global
// lock is held while the backend works.
#pragma once

#include <memory>
#include <mutex>

#include "core/backend.h"
#include "core/chained_log.h"
#include "core/config.h"
#include "sessions.h"
#include "token_view.h"

namespace brokerkey {

class ModuleState {
 public:
  ModuleState(Config config, std::unique_ptr<Backend> backend);

  const Config& config() const { return config_; }
  Backend& backend() { return *backend_; }
  SessionTable& sessions() { return sessions_; }
  // The current snapshot; rebuilt first if the ledger changed or a time boundary passed.
  std::shared_ptr<const TokenView> view();
  // The signing log, or nullptr when the config turns it off.
  const ChainedLog* signing_log() const { return signing_log_ ? &*signing_log_ : nullptr; }

 private:
  Config config_;
  std::unique_ptr<Backend> backend_;
  std::optional<ChainedLog> signing_log_;
  SessionTable sessions_;
  HandleRegistry handles_;

  std::mutex view_mutex_;     // guards view_ (held briefly)
  std::mutex rebuild_mutex_;  // one rebuild at a time (held while the backend is asked)
  std::shared_ptr<const TokenView> view_;
};

// The process-wide instance. current_state() throws CKR_CRYPTOKI_NOT_INITIALIZED when there
// is none.
void install_state(std::shared_ptr<ModuleState> state);
std::shared_ptr<ModuleState> current_state();
std::shared_ptr<ModuleState> take_state();
bool state_installed();

}  // namespace brokerkey
