#pragma once
// FleetSnapshot: the fleet at one moment as GET /v1/status, the status page's /status.json,
// /metrics and /badge.svg show it (reconciler/api/API.md "Fleet snapshot"). Plain data: the
// fleet service builds it from its state, and each document renders from it
// (snapshot_json.h, metrics.h, badge.h) without going through JSON in between.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ww {

// API.md's RevisionSummary.
struct RevisionSummary {
  std::int64_t id = 0;
  std::string source;  // "git", "apply" or "rollback"
  std::string commit;
  std::string author;
  std::string message;
  std::string applied_by;
  std::int64_t created_at = 0;
  std::string content_sha256;
  friend bool operator==(const RevisionSummary&, const RevisionSummary&) = default;
};

// The host figures of an agent's latest report; a figure the report lacks is nullopt.
struct SystemFigures {
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> memory_used_bytes;
  std::optional<std::uint64_t> memory_total_bytes;
  std::optional<std::uint64_t> disk_used_bytes;
  std::optional<std::uint64_t> disk_total_bytes;
  std::optional<std::uint64_t> uptime_seconds;
  friend bool operator==(const SystemFigures&, const SystemFigures&) = default;
};

struct FleetSnapshot {
  // The current revision replaced a git commit by a forced apply or rollback.
  struct Divergence {
    std::string commit;
    std::int64_t git_revision = 0;
    std::int64_t revision = 0;
    std::string source;
    std::string by;
    std::int64_t at = 0;
    friend bool operator==(const Divergence&, const Divergence&) = default;
  };
  struct RejectedCommit {
    std::string commit;
    std::int64_t at = 0;
    std::vector<std::string> errors;
    friend bool operator==(const RejectedCommit&, const RejectedCommit&) = default;
  };
  struct Agent {
    std::string name;
    std::string mode;  // "server" or "client"
    bool enrolled = true;  // false: the revision names it, it has not enrolled yet
    bool deleted = false;
    std::optional<std::int64_t> deleted_at;
    std::optional<std::string> enroll_command;  // set while not enrolled
    std::vector<std::string> warnings;
    bool connected = false;
    std::optional<std::int64_t> last_seen;
    std::string version;
    std::string hostname;
    std::int64_t generation = 0;
    std::int64_t applied_generation = 0;
    std::string phase;
    std::vector<std::string> drift;  // plan steps against the latest report, the first ones
    std::size_t drift_count = 0;     // all of them: drift may list fewer
    std::string last_error;
    std::int64_t consecutive_failures = 0;
    std::optional<std::int64_t> retry_at;
    std::string message;
    std::optional<SystemFigures> system;
    friend bool operator==(const Agent&, const Agent&) = default;
  };
  struct Peer {
    std::string name;
    std::optional<std::string> agent;  // absent: an unmanaged device
    bool managed = false;
    std::optional<std::string> address;  // "10.8.0.2/32"
    std::optional<std::int64_t> handshake_age_seconds;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
    friend bool operator==(const Peer&, const Peer&) = default;
  };
  struct Tunnel {
    std::string name;
    std::string server;
    std::optional<std::string> server_public_key;
    std::string interface;
    bool self_heal = true;
    std::vector<Peer> peers;
    friend bool operator==(const Tunnel&, const Tunnel&) = default;
  };
  struct Forward {
    std::string name;
    std::string tunnel;
    std::string agent;
    std::string protocol;
    std::string ports;
    std::optional<std::string> template_name;
    std::string to;
    std::string description;
    std::string state;  // "applied", "pending" or "failed"
    friend bool operator==(const Forward&, const Forward&) = default;
  };
  struct Event {
    std::int64_t id = 0;
    std::int64_t at = 0;
    std::optional<std::string> agent;
    std::string kind;
    std::string message;
    friend bool operator==(const Event&, const Event&) = default;
  };

  std::uint64_t version = 0;  // grows whenever what the snapshot says changes
  std::int64_t now = 0;
  std::optional<RevisionSummary> revision;
  std::optional<Divergence> divergence;
  std::vector<std::string> revision_errors;
  std::optional<RejectedCommit> rejected;
  bool converged = false;
  std::vector<Agent> agents;
  std::vector<Tunnel> tunnels;
  std::vector<Forward> forwards;
  std::vector<RevisionSummary> revisions;  // newest first
  std::vector<Event> events;               // newest first
  friend bool operator==(const FleetSnapshot&, const FleetSnapshot&) = default;
};

}  // namespace ww
