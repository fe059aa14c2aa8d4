#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why `path` cannot be read as a file, in words that point at the fix ("no such file", "is a directory",
/// "not readable (permission denied)", or the system's reason); nil when it looks readable.
///
/// One helper for every input a command reads (profiles, imported logs, gate baselines), so that they
/// all explain an unreadable file the same way.
public func unreadableReason(_ path: String) -> String? {
    var st = stat()
    if stat(path, &st) != 0 { return errno == ENOENT ? "no such file" : String(cString: strerror(errno)) }
    if (st.st_mode & S_IFMT) == S_IFDIR { return "is a directory" }
    if access(path, R_OK) != 0 { return "not readable (permission denied)" }
    return nil
}
