module hadr.dev/testenv/oracles/cron-gocron

go 1.26.0

require github.com/netresearch/go-cron v0.15.0
