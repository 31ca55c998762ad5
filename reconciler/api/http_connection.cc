#include "reconciler/api/http_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

namespace ww {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Bytes asked of the socket per read while reading a head (bodies use larger reads).
constexpr std::size_t kHeadReadSize = 4 * 1024;
constexpr std::size_t kBodyReadSize = 64 * 1024;
// After a refusal or a last answer: how long, and how much, of what the client still sends
// is read and thrown away before the socket closes. Closing with unread bytes would send a
// reset, which can destroy the answer before the client has read it.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kMaxLingerBytes = 256 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// A file body goes out in chunks of this size (the memory a download holds), and its answer
// deadline grows by a second per this many bytes: a client must take at least 64 KiB/s.
constexpr std::size_t kFileChunkSize = 64 * 1024;
constexpr std::uint64_t kMinFileBytesPerSecond = 64 * 1024;

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Names cpp-httplib used to add to requests itself: a handler that looks one up must never
// get a value the client made up.
bool IsServerVariableName(std::string_view name) {
  for (std::string_view variable : {"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"}) {
    if (EqualsIgnoringCase(name, variable)) return true;
  }
  return false;
}

// Header text from handlers goes out without CR or LF, so no answer can grow a header.
void AppendHeaderText(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  AppendHeaderText(out, name);
  out += ": ";
  AppendHeaderText(out, value);
  out += "\r\n";
}

bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

// `close`: the connection ends after this answer. `announce_keep_alive`: an HTTP/1.0 client
// that asked to keep the connection is told it stays. A file body is not appended: the
// connection sends it in chunks after the head.
std::string SerializeResponse(const HttpResponse& response, bool head_only, bool close, bool announce_keep_alive,
                              const HttpHeaders& defaults) {
  auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(response.status));
  std::string out;
  out.reserve(256 + (response.file ? 0 : response.body.size()));
  out += "HTTP/1.1 " + std::to_string(response.status) + " ";
  out.append(reason.data(), reason.size());
  out += "\r\n";
  bool has_body = StatusHasBody(response.status);
  if (has_body) {
    AppendHeader(out, "Content-Type", response.content_type);
    AppendHeader(out, "Content-Length",
                 std::to_string(response.file ? response.file->size() : std::uint64_t{response.body.size()}));
  }
  for (const auto& [name, value] : response.headers) AppendHeader(out, name, value);
  for (const auto& [name, value] : defaults) AppendHeader(out, name, value);
  if (close) {
    out += "Connection: close\r\n";
  } else if (announce_keep_alive) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (has_body && !head_only && !response.file) out += response.body;
  return out;
}

}  // namespace

ListenerCore::ListenerCore(HttpEngineOptions engine_options)
    : options(std::move(engine_options)),
      limiter(options.limits.max_connections, options.limits.max_connections_per_address),
      io(static_cast<int>(options.io_threads)),
      workers(options.worker_threads) {}

void ListenerCore::Forget(HttpConnection* connection) {
  std::lock_guard<std::mutex> lock(mutex);
  open.erase(connection);
  if (open.empty()) none_open.notify_all();
}

HttpConnection::HttpConnection(ListenerCore& core, asio::ip::tcp::socket socket, ConnectionLimiter::Ticket ticket,
                               std::string remote_addr, int remote_port)
    : core_(core),
      stream_(std::move(socket)),
      ticket_(std::move(ticket)),
      remote_addr_(std::move(remote_addr)),
      remote_port_(remote_port),
      executor_(stream_.socket().get_executor()),
      timer_(executor_) {}

HttpConnection::~HttpConnection() { core_.Forget(this); }

void HttpConnection::Start(ListenerCore& core, asio::ip::tcp::socket socket, ConnectionLimiter::Ticket ticket,
                           std::string remote_addr, int remote_port) {
  std::shared_ptr<HttpConnection> connection(
      new HttpConnection(core, std::move(socket), std::move(ticket), std::move(remote_addr), remote_port));
  {
    std::lock_guard<std::mutex> lock(core.mutex);
    core.open.emplace(connection.get(), connection);
  }
  // The accept handler runs elsewhere: start on the connection's own strand.
  asio::post(connection->executor_, [connection] { connection->Begin(); });
}

void HttpConnection::Begin() {
  if (core_.stopping) return Close();
  ArmDeadline(core_.options.limits.head_timeout);  // handshake and head together
  if (core_.options.tls_context != nullptr) {
    if (Status started = stream_.StartTls(core_.options.tls_context); !started.ok()) return Close();
  }
  phase_ = Phase::kHandshake;
  stream_.AsyncHandshake([self = shared_from_this()](const error_code& error, std::size_t) {
    if (self->phase_ != Phase::kHandshake) return;
    if (error) return self->Close();
    self->ReadRequest();
  });
}

void HttpConnection::ReadRequest() {
  phase_ = Phase::kReading;
  if (!first_request_) ArmDeadline(core_.options.limits.keep_alive_timeout);
  first_request_ = false;
  head_only_ = false;
  http10_ = false;
  parser_.emplace(core_.options.limits.max_head_bytes, core_.options.limits.max_header_lines);
  Parse();  // bytes of a pipelined request may already be here
}

void HttpConnection::Parse() {
  std::size_t used = parser_->Put(std::string_view(input_.data(), input_size_));
  Consume(used);
  switch (parser_->state()) {
    case RequestParser::State::kNeedMore:
    case RequestParser::State::kBody:
      return ReadMore();
    case RequestParser::State::kHead:
      return OnHead();
    case RequestParser::State::kComplete:
      return Dispatch();
    case RequestParser::State::kFailed: {
      const RequestParser::Failure& failure = parser_->failure();
      if (failure.status == 0) return Close();
      return Refuse(failure.status, failure.reason);
    }
  }
}

void HttpConnection::ReadMore() {
  std::size_t chunk = parser_->state() == RequestParser::State::kBody ? kBodyReadSize : kHeadReadSize;
  if (input_.size() < input_size_ + chunk) input_.resize(input_size_ + chunk);
  stream_.AsyncReadSome(input_.data() + input_size_, chunk,
                        [self = shared_from_this()](const error_code& error, std::size_t count) {
                          if (self->phase_ != Phase::kReading) return;
                          if (error) {
                            // The end of the stream between requests is a normal close;
                            // anything else (a deadline, a reset) just ends the connection.
                            if (error == asio::error::eof) self->parser_->PutEof();
                            return self->Close();
                          }
                          self->input_size_ += count;
                          self->Parse();
                        });
}

void HttpConnection::OnHead() {
  head_ = RequestHead{};
  head_.method = parser_->method();
  head_.target = parser_->target();
  for (const auto& [name, value] : parser_->headers()) {
    if (!IsServerVariableName(name)) head_.headers.emplace_back(name, value);
  }
  head_.remote_addr = remote_addr_;
  head_.remote_port = remote_port_;
  head_.tls = stream_.tls();
  head_only_ = head_.method == "HEAD";
  http10_ = parser_->version() < 11;
  HeadDecision decision;
  try {
    decision = core_.options.check_head(head_);
  } catch (const std::exception&) {
    return Refuse(500, "internal error");
  }
  if (decision.refusal) return Write(*decision.refusal, AfterAnswer::kClose);
  route_ = decision.route;
  parser_->SetBodyLimit(decision.max_body);
  if (parser_->state() != RequestParser::State::kBody) return Parse();
  ArmDeadline(core_.options.limits.body_timeout);
  if (!parser_->expects_continue() || input_size_ > 0) return Parse();
  // The client holds its body back until told to send it.
  stream_.AsyncWriteAll(kContinue.data(), kContinue.size(),
                        [self = shared_from_this()](const error_code& error, std::size_t) {
                          if (self->phase_ != Phase::kReading) return;
                          if (error) return self->Close();
                          self->Parse();
                        });
}

void HttpConnection::Dispatch() {
  CancelDeadline();
  phase_ = Phase::kHandling;
  after_answer_ = parser_->keep_alive() ? AfterAnswer::kKeepAlive : AfterAnswer::kClose;
  std::string body = parser_->TakeBody();
  parser_.reset();
  ReleaseBuffers();
  asio::post(core_.workers,
             [self = shared_from_this(), head = std::move(head_), body = std::move(body), route = route_]() mutable {
               HttpResponse response;
               try {
                 response = self->core_.options.handle(std::move(head), std::move(body), route);
               } catch (const std::exception&) {
                 response = self->core_.options.refusal(500, "internal error");
               }
               self->Answer(std::move(response));
             });
}

void HttpConnection::Answer(HttpResponse response) {
  asio::post(executor_, [self = shared_from_this(), response = std::move(response)]() mutable {
    self->OnAnswer(std::move(response));
  });
}

void HttpConnection::OnAnswer(HttpResponse response) {
  if (phase_ != Phase::kHandling && phase_ != Phase::kParked) return;  // closed meanwhile
  CancelDeadline();
  waiter_ = 0;
  if (response.park) return Park(std::move(*response.park));
  Write(response, after_answer_);
}

void HttpConnection::Park(LongPoll poll) {
  LongPollHub* hub = core_.options.long_polls;
  if (hub == nullptr)
    return Write(core_.options.refusal(500, "internal error: this listener cannot park a long-poll"),
                 AfterAnswer::kClose);
  phase_ = Phase::kParked;
  auto answer = std::make_shared<std::function<HttpResponse(const LongPollHub::WaitResult&)>>(std::move(poll.answer));
  // The hub calls back on whichever thread notifies: the continuation goes to a worker.
  std::shared_ptr<HttpConnection> self = shared_from_this();
  ArmDeadline(poll.timeout);  // OnDeadline expires the waiter rather than closing
  waiter_ = hub->Await(poll.key, poll.after_generation, [self, answer](const LongPollHub::WaitResult& result) {
    asio::post(self->core_.workers, [self, answer, result] {
      HttpResponse response;
      try {
        response = (*answer)(result);
      } catch (const std::exception&) {
        response = self->core_.options.refusal(500, "internal error");
      }
      self->Answer(std::move(response));
    });
  });
}

void HttpConnection::Refuse(int status, const std::string& reason) {
  Write(core_.options.refusal(status, reason), AfterAnswer::kClose);
}

void HttpConnection::Write(const HttpResponse& response, AfterAnswer after) {
  if (core_.stopping) after = AfterAnswer::kClose;
  phase_ = Phase::kWriting;
  output_ =
      SerializeResponse(response, head_only_, after == AfterAnswer::kClose, http10_, core_.options.default_headers);
  std::chrono::milliseconds deadline = core_.options.limits.write_timeout;
  if (response.file && StatusHasBody(response.status) && !head_only_) {
    file_ = response.file;
    file_offset_ = 0;
    deadline += std::chrono::seconds(file_->size() / kMinFileBytesPerSecond);
    if (!AppendFileChunk()) return Close();
  }
  ArmDeadline(deadline);
  WriteOutput(after);
}

bool HttpConnection::AppendFileChunk() {
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kFileChunkSize, file_->size() - file_offset_));
  std::size_t at = output_.size();
  output_.resize(at + want);
  Result<std::size_t> got = file_->ReadAt(file_offset_, output_.data() + at, want);
  // A file that shrank or cannot be read: the client sees a short body, never other bytes.
  if (want > 0 && (!got.ok() || *got == 0)) return false;
  output_.resize(at + (got.ok() ? *got : 0));
  file_offset_ += got.ok() ? *got : 0;
  return true;
}

void HttpConnection::WriteOutput(AfterAnswer after) {
  stream_.AsyncWriteAll(output_.data(), output_.size(),
                        [self = shared_from_this(), after](const error_code& error, std::size_t) {
                          if (self->phase_ != Phase::kWriting) return;
                          if (!error && self->file_ && self->file_offset_ < self->file_->size()) {
                            self->output_.clear();
                            if (!self->AppendFileChunk()) return self->Close();
                            return self->WriteOutput(after);
                          }
                          self->CancelDeadline();
                          std::string().swap(self->output_);
                          self->file_.reset();
                          if (error) return self->Close();
                          if (after == AfterAnswer::kClose) return self->CloseGracefully();
                          self->ReadRequest();
                        });
}

void HttpConnection::CloseGracefully() {
  phase_ = Phase::kClosing;
  parser_.reset();
  stream_.ShutdownSending();
  ArmDeadline(kLingerTimeout);
  input_.resize(kHeadReadSize);
  input_size_ = 0;
  drained_ = 0;
  Drain();
}

void HttpConnection::Drain() {
  // Raw bytes, never parsed: after a TLS close_notify they are records nobody decrypts.
  stream_.socket().async_read_some(asio::buffer(input_.data(), input_.size()),
                                   [self = shared_from_this()](const error_code& error, std::size_t count) {
                                     if (self->phase_ != Phase::kClosing) return;
                                     self->drained_ += count;
                                     if (error || self->drained_ > kMaxLingerBytes) return self->Close();
                                     self->Drain();
                                   });
}

void HttpConnection::Close() {
  if (phase_ == Phase::kClosed) return;
  Phase was = phase_;
  phase_ = Phase::kClosed;
  CancelDeadline();
  stream_.Close();
  file_.reset();
  parser_.reset();
  // A parked poll lets go of this connection: its continuation runs and finds it closed.
  if (was == Phase::kParked && waiter_ != 0 && core_.options.long_polls != nullptr) {
    core_.options.long_polls->Expire(std::exchange(waiter_, 0));
  }
}

void HttpConnection::OnStop() {
  switch (phase_) {
    case Phase::kHandshake:
    case Phase::kReading:
    case Phase::kClosing:
      return Close();
    case Phase::kHandling:
    case Phase::kParked:
    case Phase::kWriting:
    case Phase::kClosed:
      return;  // an answer in the making is still written, then the connection closes
  }
}

void HttpConnection::OnDeadline() {
  if (phase_ == Phase::kParked) {
    // The poll's timeout: the hub answers it with kTimedOut, unless a notification won.
    if (waiter_ != 0 && core_.options.long_polls != nullptr)
      core_.options.long_polls->Expire(std::exchange(waiter_, 0));
    return;
  }
  Close();
}

void HttpConnection::ArmDeadline(std::chrono::milliseconds after) {
  std::uint64_t generation = ++timer_generation_;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& error) {
    if (error || generation != self->timer_generation_) return;
    self->OnDeadline();
  });
}

void HttpConnection::CancelDeadline() {
  ++timer_generation_;
  timer_.cancel();
}

void HttpConnection::Consume(std::size_t bytes) {
  if (bytes == 0) return;
  std::memmove(input_.data(), input_.data() + bytes, input_size_ - bytes);
  input_size_ -= bytes;
}

void HttpConnection::ReleaseBuffers() {
  // An idle or parked connection keeps no read buffer (10,000 of them would hold 40 MB).
  if (input_size_ == 0) std::string().swap(input_);
}

}  // namespace ww
