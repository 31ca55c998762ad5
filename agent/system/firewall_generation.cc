#include "agent/system/firewall_generation.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <cerrno>
#include <cstring>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace ww::agent {
namespace {

constexpr uint32_t kSequence = 1;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

Status Failed(const std::string& what, int error) {
  return Status::Unavailable("reading the nftables ruleset generation: " + what + ": " + std::strerror(error));
}

Result<std::string> ReadBootId() {
  int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Failed("opening /proc/sys/kernel/random/boot_id", errno);
  std::array<char, 64> buffer{};
  ssize_t size = ::read(fd, buffer.data(), buffer.size());
  int error = errno;
  ::close(fd);
  if (size <= 0) return Failed("reading /proc/sys/kernel/random/boot_id", size < 0 ? error : EIO);
  std::string id(buffer.data(), static_cast<size_t>(size));
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

// The real path of the first iptables-save in `search_path` (colon-separated).
Result<std::string> ResolveIptablesSave(const std::string& search_path_text) {
  std::string_view search_path = search_path_text;
  while (true) {
    size_t end = search_path.find(':');
    std::string candidate = std::string(search_path.substr(0, end)) + "/iptables-save";
    if (::access(candidate.c_str(), X_OK) == 0) {
      std::array<char, PATH_MAX> resolved{};
      if (::realpath(candidate.c_str(), resolved.data()) == nullptr) return Failed("resolving " + candidate, errno);
      return std::string(resolved.data());
    }
    if (end == std::string_view::npos) break;
    search_path.remove_prefix(end + 1);
  }
  return Status::Unavailable("iptables-save is not in " + search_path_text);
}

// The NFTA_GEN_ID attribute of an NFT_MSG_NEWGEN answer in `message` (one netlink message
// of `length` bytes, header included).
Result<uint32_t> GenerationFromMessage(const char* message, size_t length) {
  nlmsghdr header;
  std::memcpy(&header, message, sizeof(header));
  if (header.nlmsg_type == NLMSG_ERROR) {
    nlmsgerr error;
    if (length < NLMSG_HDRLEN + sizeof(error)) return Status::Unavailable("short netlink error answer");
    std::memcpy(&error, message + NLMSG_HDRLEN, sizeof(error));
    return Failed("NFT_MSG_GETGEN", -error.error);
  }
  if (header.nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
    return Status::Unavailable("unexpected netlink answer type " + std::to_string(header.nlmsg_type));
  }
  size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  while (offset + sizeof(nlattr) <= length) {
    nlattr attribute;
    std::memcpy(&attribute, message + offset, sizeof(attribute));
    if (attribute.nla_len < sizeof(nlattr) || offset + attribute.nla_len > length) break;
    if ((attribute.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attribute.nla_len >= sizeof(nlattr) + sizeof(uint32_t)) {
      uint32_t generation;
      std::memcpy(&generation, message + offset + NLA_HDRLEN, sizeof(generation));
      return ntohl(generation);
    }
    offset += NLA_ALIGN(attribute.nla_len);
  }
  return Status::Unavailable("the kernel's NFT_MSG_NEWGEN answer has no NFTA_GEN_ID");
}

}  // namespace

Result<RulesetVersion> NetlinkFirewallGeneration::Read() {
  RulesetVersion version;
  WW_ASSIGN_OR_RETURN(version.boot_id, ReadBootId());
  WW_ASSIGN_OR_RETURN(version.iptables_save, ResolveIptablesSave(search_path_));

  Socket socket(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (socket.fd() < 0) return Failed("netlink socket", errno);
  timeval timeout{.tv_sec = 1, .tv_usec = 0};
  if (::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    return Failed("setting a receive timeout", errno);
  }
  socklen_t cookie_size = sizeof(version.network_namespace);
  if (::getsockopt(socket.fd(), SOL_SOCKET, SO_NETNS_COOKIE, &version.network_namespace, &cookie_size) != 0 ||
      cookie_size != sizeof(version.network_namespace)) {
    return Failed("SO_NETNS_COOKIE", errno);
  }

  struct Request {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = kSequence;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  request.body.res_id = htons(0);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(socket.fd(), &request, sizeof(request), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) != static_cast<ssize_t>(sizeof(request))) {
    return Failed("sending NFT_MSG_GETGEN", errno);
  }

  std::array<char, 8192> answer;
  for (;;) {
    ssize_t size = ::recv(socket.fd(), answer.data(), answer.size(), 0);
    if (size < 0 && errno == EINTR) continue;
    if (size < 0) return Failed("receiving the answer", errno);
    // One datagram may carry several messages; skip any that answer another request.
    size_t offset = 0;
    while (offset + NLMSG_HDRLEN <= static_cast<size_t>(size)) {
      nlmsghdr header;
      std::memcpy(&header, answer.data() + offset, sizeof(header));
      if (header.nlmsg_len < NLMSG_HDRLEN || offset + header.nlmsg_len > static_cast<size_t>(size)) {
        return Status::Unavailable("truncated netlink answer");
      }
      if (header.nlmsg_seq == kSequence) {
        WW_ASSIGN_OR_RETURN(version.generation, GenerationFromMessage(answer.data() + offset, header.nlmsg_len));
        return version;
      }
      offset += NLMSG_ALIGN(header.nlmsg_len);
    }
  }
}

}  // namespace ww::agent
