import FlashSaleSystem
import Foundation

/// Writes a run's outputs (`--report`, `--hgrm`): in place, so a symlink is followed and /dev/stdout
/// stays a device.
public enum OutputFile {
    /// Writes `data` to `path`; a failure is a `RunFailure(.runtimeFailure)` naming the option, the file,
    /// the failed step and the system's reason.
    public static func write(_ data: Data, to path: String, option: String) throws(RunFailure) {
        do throws(SystemCallError) {
            let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
            var written: Result<Int, SystemCallError> = .success(0)
            data.withUnsafeBytes { b in written = Result { () throws(SystemCallError) in try fd.writeAll(b) } }
            do { _ = try written.get() } catch {
                fd.closeQuietly()
                throw error
            }
            try fd.close()
        } catch {
            throw RunFailure(.runtimeFailure, "\(option) \(path): \(error.operation) failed: \(error.reason)")
        }
    }
}
