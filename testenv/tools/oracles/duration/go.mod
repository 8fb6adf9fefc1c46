module hadr.dev/testenv/oracles/duration

go 1.26.0
