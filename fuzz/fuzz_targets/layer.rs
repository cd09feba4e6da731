//! The tar walker and ELF/shebang detection on arbitrary layer bytes: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((changes, _)) = exelock::catalog::walk_layer("fuzz", "layer", data) {
        let mut filesystem = exelock::catalog::Filesystem::default();
        filesystem.apply(0, changes);
        let _ = filesystem.into_entries();
    }
});
