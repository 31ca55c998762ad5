#pragma once
// One connection of the front end (HttpEngine) and what all connections of a listener share.
// A connection runs on its own strand: handshake, head (RequestParser) under the head or
// keep-alive deadline, the listener's head check, body under the body deadline, then the
// handler on the worker pool; its answer comes back to the strand, is parked on the
// LongPollHub (a timer, no thread) or written under the write deadline (a file body chunk by
// chunk, each read once the one before is written), and the connection reads the next
// request or closes (sending side first, then discarding what the client still sends for a
// moment, so the answer is not lost to a reset).
// Includes Boost.Asio: only http_engine.cc and http_connection.cc include this header.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "reconciler/api/connection_limiter.h"
#include "reconciler/api/http_engine.h"
#include "reconciler/api/long_poll_hub.h"
#include "reconciler/api/request_parser.h"
#include "reconciler/api/socket_stream.h"

namespace ww {

class HttpConnection;

// Owned by HttpEngine; outlives every connection. Members are declared so that the worker
// pool goes first and the io_context (whose handlers may hold the last connections) before
// the registry and limiter those connections report to.
struct ListenerCore {
  explicit ListenerCore(HttpEngineOptions engine_options);

  // The connection is gone (from its destructor).
  void Forget(HttpConnection* connection);

  HttpEngineOptions options;
  ConnectionLimiter limiter;
  std::atomic<bool> stopping{false};
  mutable std::mutex mutex;
  std::condition_variable none_open;                                        // notified when `open` becomes empty
  std::unordered_map<HttpConnection*, std::weak_ptr<HttpConnection>> open;  // GUARDED_BY(mutex)
  boost::asio::io_context io;
  boost::asio::thread_pool workers;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  // Registers the connection with `core` and starts serving it. `socket` runs on a strand.
  static void Start(ListenerCore& core, boost::asio::ip::tcp::socket socket, ConnectionLimiter::Ticket ticket,
                    std::string remote_addr, int remote_port);
  ~HttpConnection();

  // The connection's strand: everything but handlers runs there.
  const boost::asio::any_io_executor& executor() const { return executor_; }
  // Posted by HttpEngine::Stop: closes the connection unless an answer is being made or sent
  // (that one is written, then the connection closes).
  void OnStop();
  // Posted by HttpEngine::Stop when the grace period is over: closes whatever it is doing.
  void Close();

  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

 private:
  enum class Phase { kHandshake, kReading, kHandling, kParked, kWriting, kClosing, kClosed };
  enum class AfterAnswer { kKeepAlive, kClose };

  HttpConnection(ListenerCore& core, boost::asio::ip::tcp::socket socket, ConnectionLimiter::Ticket ticket,
                 std::string remote_addr, int remote_port);

  void Begin();
  void ReadRequest();
  void Parse();
  void ReadMore();
  void OnHead();
  void Dispatch();
  // Any thread: hands an answer back to the strand.
  void Answer(HttpResponse response);
  void OnAnswer(HttpResponse response);
  void Park(LongPoll poll);
  void Refuse(int status, const std::string& reason);
  void Write(const HttpResponse& response, AfterAnswer after);
  // Writes output_; then, for a file body, the next chunk until the file is sent.
  void WriteOutput(AfterAnswer after);
  // Appends the file body's next chunk to output_; false when the file cannot be read.
  bool AppendFileChunk();
  void CloseGracefully();
  void Drain();
  void OnDeadline();

  void ArmDeadline(std::chrono::milliseconds after);
  void CancelDeadline();
  void Consume(std::size_t bytes);
  void ReleaseBuffers();

  ListenerCore& core_;
  SocketStream stream_;
  ConnectionLimiter::Ticket ticket_;
  const std::string remote_addr_;
  const int remote_port_;
  const boost::asio::any_io_executor executor_;  // the connection's strand
  boost::asio::steady_timer timer_;              // deadlines, and a parked poll's timeout
  std::uint64_t timer_generation_ = 0;           // a fired wait of an older arming is ignored
  Phase phase_ = Phase::kHandshake;
  bool first_request_ = true;
  std::optional<RequestParser> parser_;
  std::string input_;  // bytes read and not yet parsed: [0, input_size_)
  std::size_t input_size_ = 0;
  std::string output_;  // the answer being written (a file body: its head, then chunk by chunk)
  std::shared_ptr<const FileBody> file_;  // a file body being sent
  std::uint64_t file_offset_ = 0;         // of file_: bytes read into output_ so far
  RequestHead head_;    // the request being handled
  int route_ = -1;
  bool head_only_ = false;  // HEAD: the answer goes without its body
  bool http10_ = false;     // an HTTP/1.0 request: keeping the connection must be announced
  AfterAnswer after_answer_ = AfterAnswer::kKeepAlive;
  LongPollHub::WaiterId waiter_ = 0;  // while parked
  std::size_t drained_ = 0;           // bytes discarded while closing
};

}  // namespace ww
