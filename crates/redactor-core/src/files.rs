//! Reading the small files that a policy or a stage configuration names
//! (policies, key files, secrets) with a cap on their size, so that a path
//! naming a device or a large file by mistake (`/dev/urandom` as a key
//! file, a log instead of a policy) gives an error instead of reading
//! without end.

use std::io::{self, Read};
use std::path::Path;

/// The most bytes a key or secret file may hold.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The most bytes a policy or configuration file may hold.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes of the file at `path`, read no further than `max` + 1 bytes.
///
/// # Errors
///
/// The error of opening or reading the file, or
/// [`io::ErrorKind::InvalidData`] when it holds more than `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

/// [`read_capped`], as UTF-8 text.
///
/// # Errors
///
/// As [`read_capped`], and [`io::ErrorKind::InvalidData`] when the bytes
/// are not UTF-8.
pub fn read_capped_to_string(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, max)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_up_to_the_cap_are_read_and_larger_ones_refused() {
        let path = std::env::temp_dir().join(format!("redactor-capped-{}", std::process::id()));
        std::fs::write(&path, [b'k'; 100]).unwrap();
        assert_eq!(read_capped(&path, 100).unwrap(), vec![b'k'; 100]);
        let e = read_capped(&path, 99).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "larger than 99 bytes");
        std::fs::write(&path, b"ok\xff").unwrap();
        let e = read_capped_to_string(&path, 100).unwrap_err();
        assert_eq!(e.to_string(), "not UTF-8 (at byte 2)");
        std::fs::remove_file(&path).unwrap();
        let missing = read_capped(&path, 100).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn an_endless_device_is_refused_at_the_cap() {
        let zero = Path::new("/dev/zero");
        if !zero.exists() {
            println!("no /dev/zero here: skipped");
            return;
        }
        let e = read_capped(zero, MAX_SECRET_FILE_BYTES).unwrap_err();
        assert_eq!(e.to_string(), "larger than 65536 bytes");
    }
}
