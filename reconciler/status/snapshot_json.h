#pragma once
// Reading the fleet snapshot (API.md "Fleet snapshot") for the status listener's derived
// documents (metrics, badge): a parsed view with typed accessors that fail with the field's
// path ("agents[2].phase") instead of throwing. nlohmann/json stays inside snapshot_json.cc.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/result.h"

namespace ww {

// The parts of a snapshot the listener's documents use. Optional fields are nullopt when the
// snapshot has null or nothing there.
struct SnapshotView {
  struct Revision {
    std::int64_t id = 0;
    std::string source;
    std::string commit;
    std::int64_t created_at = 0;
  };
  struct Agent {
    std::string name;
    bool connected = false;
    bool enrolled = true;  // false: the revision names it, it has not enrolled yet
    std::optional<std::int64_t> last_seen;
    std::int64_t generation = 0;
    std::int64_t applied_generation = 0;
    std::string phase;
    std::size_t drift_steps = 0;
  };
  struct Peer {
    std::string tunnel;
    std::string name;
    std::optional<std::int64_t> handshake_age_seconds;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
  };
  struct Forward {
    std::string name;
    std::string state;
  };

  std::int64_t now = 0;
  bool converged = false;
  std::optional<Revision> revision;
  bool has_rejected_commit = false;
  std::vector<Agent> agents;
  std::vector<Peer> peers;  // every tunnel's peers, in snapshot order
  std::vector<Forward> forwards;
};

// kInvalidArgument naming the field when the text is not JSON or a field has the wrong type.
Result<SnapshotView> ParseSnapshotView(std::string_view snapshot_json);

}  // namespace ww
