//! A component of a world that imports `acme:clock/time`, which no rustyray host
//! provides: loading it must fail with a message naming the import.

wit_bindgen::generate!({
    inline: "
        package acme:clock;
        interface time { now: func() -> u64; }
        world foreign {
            import time;
            export tick: func() -> u64;
        }
    ",
});

struct Foreign;

impl Guest for Foreign {
    fn tick() -> u64 {
        acme::clock::time::now() + 1
    }
}

export!(Foreign);
