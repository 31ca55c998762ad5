#include "reconciler/server/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "reconciler/client/https_url.h"
#include "reconciler/client/wwctl_config_text.h"

namespace ww {
namespace {

std::string JoinPath(const std::string& directory, std::string_view name) {
  return directory + "/" + std::string(name);
}

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return Status::Internal(what + " \"" + path + "\": " + std::strerror(errno));
}

// Creates `path` with mode 0700, or checks that the existing directory is private.
Status EnsurePrivateDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("creating directory", path);
  struct stat info{};
  if (stat(path.c_str(), &info) != 0) return ErrnoStatus("reading", path);
  if (!S_ISDIR(info.st_mode)) return Status::FailedPrecondition("\"" + path + "\" is not a directory");
  if ((info.st_mode & 077) != 0) {
    return Status::FailedPrecondition("data directory \"" + path +
                                      "\" is accessible to group or others; run: chmod 700 " + path);
  }
  return Status::Ok();
}

// Writes `contents` to a temporary file with `mode`, fsyncs it and renames it over `name`.
Status WriteFileAtomically(const std::string& directory, std::string_view name, std::string_view contents,
                           mode_t mode) {
  std::string path = JoinPath(directory, name);
  std::string temporary = path + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return ErrnoStatus("creating", temporary);
  bool written = fchmod(fd, mode) == 0;
  size_t offset = 0;
  while (written && offset < contents.size()) {
    ssize_t count = write(fd, contents.data() + offset, contents.size() - offset);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) written = false;
    if (count > 0) offset += static_cast<size_t>(count);
  }
  written = written && fsync(fd) == 0;
  Status status = written ? Status::Ok() : ErrnoStatus("writing", temporary);
  close(fd);
  if (!status.ok()) return status;
  if (rename(temporary.c_str(), path.c_str()) != 0) return ErrnoStatus("renaming to", path);
  int directory_fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd >= 0) {
    fsync(directory_fd);
    close(directory_fd);
  }
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return Status::NotFound("cannot read \"" + path + "\"");
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

bool FileExists(const std::string& path) {
  struct stat info{};
  return stat(path.c_str(), &info) == 0;
}

std::string AdminConfig(const std::string& url, const std::string& ca_pin, const std::string& ca_pem,
                        const std::string& certificate_pem, const std::string& key_pem) {
  return FormatWwctlConfig(WwctlConfigText{url, ca_pin, ca_pem, certificate_pem, key_pem},
                           "the reconciler's administrator");
}

// The fleet id in fleet-id (its first line), or nullopt when there is no such file.
Result<std::optional<std::string>> ReadFleetId(const std::string& directory) {
  std::string path = JoinPath(directory, kFleetIdFileName);
  if (!FileExists(path)) return std::optional<std::string>();
  WW_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  std::string fleet = text.substr(0, text.find('\n'));
  if (!IsValidIdentityPart(fleet)) {
    return Status::InvalidArgument("\"" + path + "\" holds \"" + fleet.substr(0, 64) +
                                   "\", not a fleet id (^[a-z0-9][a-z0-9-]{0,62}$)");
  }
  return std::optional<std::string>(fleet);
}

Status CreateAll(Bootstrap& bootstrap, const HttpsUrl& url, std::int64_t now) {
  const std::string& directory = bootstrap.data_dir;
  // One written by hand before the first start (or by a first start cut short) is kept.
  WW_ASSIGN_OR_RETURN(std::optional<std::string> seeded, ReadFleetId(directory));
  if (seeded) {
    bootstrap.fleet = *seeded;
  } else {
    WW_ASSIGN_OR_RETURN(bootstrap.fleet, GenerateFleetId());
  }
  WW_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Create("WireWarp CA " + bootstrap.fleet, now));
  std::vector<std::string> dns_names{"localhost"};
  std::vector<std::string> ip_addresses{"127.0.0.1"};
  std::vector<std::string>& advertised = url.host_is_ip ? ip_addresses : dns_names;
  if (std::find(advertised.begin(), advertised.end(), url.host) == advertised.end()) {
    advertised.push_back(url.host);
  }
  WW_ASSIGN_OR_RETURN(IssuedServerCertificate server, ca.IssueServer("", dns_names, ip_addresses, now));

  WW_ASSIGN_OR_RETURN(std::string admin_key, GenerateP256Key());
  WW_ASSIGN_OR_RETURN(std::string admin_csr, MakeCsr(admin_key, "admin"));
  Identity admin{IdentityKind::kAdmin, "admin", bootstrap.fleet};
  WW_ASSIGN_OR_RETURN(IssuedCertificate admin_certificate,
                      ca.IssueClient(admin_csr, admin, now, kAdminCertificateLifetime));
  // A credential named "admin" like any other: revocable once another admin exists.
  WW_RETURN_IF_ERROR(bootstrap.store->CreateCredential(
      CredentialRecord{"admin",
                       CertificateRecord{admin_certificate.serial_hex, std::nullopt, IdentityUri(admin),
                                         CertificateRole::kAdmin, admin_certificate.not_before,
                                         admin_certificate.not_after, std::nullopt},
                       "", std::nullopt},
      now));
  WW_ASSIGN_OR_RETURN(std::string ca_pin, SpkiPin(ca.CertificatePem()));

  WW_RETURN_IF_ERROR(WriteFileAtomically(directory, kServerKeyFileName, server.private_key_pem, 0600));
  WW_RETURN_IF_ERROR(
      WriteFileAtomically(directory, kServerCertificateFileName, server.certificate.pem, 0644));
  WW_RETURN_IF_ERROR(WriteFileAtomically(
      directory, kAdminConfigFileName,
      AdminConfig(bootstrap.advertise_url, ca_pin, ca.CertificatePem(), admin_certificate.pem, admin_key), 0600));
  WW_RETURN_IF_ERROR(WriteFileAtomically(directory, kCaKeyFileName, ca.PrivateKeyPem(), 0600));
  WW_RETURN_IF_ERROR(WriteFileAtomically(directory, kFleetIdFileName, bootstrap.fleet + "\n", 0644));
  // Last: its presence says every other file is complete.
  WW_RETURN_IF_ERROR(WriteFileAtomically(directory, kCaCertificateFileName, ca.CertificatePem(), 0644));

  bootstrap.server_certificate_pem = server.certificate.pem;
  bootstrap.server_private_key_pem = server.private_key_pem;
  bootstrap.ca_pin = ca_pin;
  bootstrap.ca = std::make_unique<CertificateAuthority>(std::move(ca));
  bootstrap.outcome = BootstrapOutcome::kCreated;
  return Status::Ok();
}

Status LoadAll(Bootstrap& bootstrap) {
  const std::string& directory = bootstrap.data_dir;
  WW_ASSIGN_OR_RETURN(std::string ca_pem, ReadWholeFile(JoinPath(directory, kCaCertificateFileName)));
  WW_ASSIGN_OR_RETURN(std::string ca_key_pem, ReadWholeFile(JoinPath(directory, kCaKeyFileName)));
  WW_ASSIGN_OR_RETURN(CertificateAuthority ca, CertificateAuthority::Load(ca_pem, ca_key_pem));
  WW_ASSIGN_OR_RETURN(bootstrap.server_certificate_pem,
                      ReadWholeFile(JoinPath(directory, kServerCertificateFileName)));
  WW_ASSIGN_OR_RETURN(bootstrap.server_private_key_pem, ReadWholeFile(JoinPath(directory, kServerKeyFileName)));
  WW_ASSIGN_OR_RETURN(bootstrap.ca_pin, SpkiPin(ca.CertificatePem()));
  // A directory made before fleet ids has none: its certificates carry "default".
  WW_ASSIGN_OR_RETURN(std::optional<std::string> fleet, ReadFleetId(directory));
  bootstrap.fleet = fleet.value_or(std::string(kDefaultFleet));
  bootstrap.ca = std::make_unique<CertificateAuthority>(std::move(ca));
  bootstrap.outcome = BootstrapOutcome::kLoaded;
  return Status::Ok();
}

}  // namespace

Result<Bootstrap> Bootstrap::Open(const std::string& data_dir, const std::string& advertise_url, std::int64_t now) {
  WW_ASSIGN_OR_RETURN(HttpsUrl url, ParseHttpsUrl(advertise_url));
  WW_RETURN_IF_ERROR(EnsurePrivateDirectory(data_dir));
  Bootstrap bootstrap;
  bootstrap.data_dir = data_dir;
  bootstrap.advertise_url = advertise_url;
  bootstrap.admin_config_path = JoinPath(data_dir, kAdminConfigFileName);
  WW_ASSIGN_OR_RETURN(bootstrap.store, Store::Open(JoinPath(data_dir, kDatabaseFileName)));
  if (FileExists(JoinPath(data_dir, kCaCertificateFileName))) {
    WW_RETURN_IF_ERROR(LoadAll(bootstrap).WithContext("loading \"" + data_dir + "\""));
  } else {
    WW_RETURN_IF_ERROR(CreateAll(bootstrap, url, now).WithContext("initialising \"" + data_dir + "\""));
  }
  return bootstrap;
}

}  // namespace ww
