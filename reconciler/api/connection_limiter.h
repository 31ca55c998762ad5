#pragma once
// Counts a listener's open connections, in total and per source address, so that the accept
// loop closes a connection over either cap at once instead of queueing it. A source is an
// IPv4 address, or the /64 of an IPv6 address (one host commonly holds a whole /64 and could
// otherwise walk through it). Thread-safe.

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ww {

class ConnectionLimiter {
 public:
  enum class Admission { kAdmitted, kOverTotal, kOverSource };

  // One admitted connection; gives its place back when destroyed. Movable.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    bool held() const { return limiter_ != nullptr; }

   private:
    friend class ConnectionLimiter;
    Ticket(ConnectionLimiter* limiter, std::string source) : limiter_(limiter), source_(std::move(source)) {}
    void Release();
    ConnectionLimiter* limiter_ = nullptr;
    std::string source_;
  };

  // `max_per_source` 0: no per-source cap. REQUIRES: max_total >= 1; the limiter outlives its
  // tickets.
  ConnectionLimiter(std::size_t max_total, std::size_t max_per_source);

  // Admits a connection from `address` (the peer's IP as text) when both caps allow it;
  // `admission` says which cap refused otherwise (the ticket is then empty).
  Ticket TryAdmit(std::string_view address, Admission& admission);
  // Connections admitted and not yet released.
  std::size_t Open() const;

  // The source `address` counts against: the address itself for IPv4 (also IPv4-mapped
  // IPv6), "PREFIX/64" for IPv6; the text unchanged when it is not an IP address.
  static std::string SourceOf(std::string_view address);

 private:
  void Release(const std::string& source);

  const std::size_t max_total_;
  const std::size_t max_per_source_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;                                    // GUARDED_BY(mutex_)
  std::unordered_map<std::string, std::size_t> by_source_;  // GUARDED_BY(mutex_); no zero entries
};

}  // namespace ww
