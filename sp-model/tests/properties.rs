//! The model checker over the real protocols: every standard configuration holds all its
//! properties to the CI depth, and every property finds its counterexample when a bug
//! that breaks its rule is planted (a checker that cannot fail proves nothing).

use sp_model::configs;
use sp_model::machine::Bug;
use sp_model::props::*;
use sp_model::spec::Spec;
use sp_model::{check, Outcome};

/// Steps explored per path in CI; `scripts/model.sh` goes deeper.
const CI_DEPTH: usize = 12;

#[test]
fn every_standard_configuration_holds() {
    let mut report = String::new();
    let mut failed = Vec::new();
    for spec in configs::all() {
        let o = check(spec, Some(CI_DEPTH));
        assert!(!o.properties.is_empty(), "{} checks nothing", o.name);
        assert!(o.unique_states > 50, "{} explored too little: {o}", o.name);
        if !o.counterexamples.is_empty() || !o.uncovered.is_empty() {
            failed.push(o.name);
        }
        report.push_str(&o.to_string());
    }
    eprintln!("{report}");
    assert!(failed.is_empty(), "violated in {failed:?}:\n{report}");
}

/// The coverage check reports a transition no table row has (the checker found one for
/// real: BUS `queued --recv--> queued`, with two messages queued, now a row).
#[test]
fn a_transition_no_table_describes_is_reported() {
    use sp_model::coverage::{uncovered, Outputs, Transition};
    let transmit = Outputs::named("transmit(p1, request)").expect("an output name");
    let t = |state, input, outputs, next| Transition {
        role: "req",
        state,
        input,
        outputs,
        next,
    };
    let seen = [
        t("idle", "send", transmit, "sent"),
        t("idle", "recv", Outputs::NONE, "replied"),
        // A row exists for (idle, send, sent), but it transmits: a send that goes out
        // silently is not described.
        t("idle", "send", Outputs::NONE, "sent"),
    ]
    .into();
    let found = uncovered(&seen);
    assert_eq!(
        found,
        [
            "req: idle --recv / —--> replied is in no row of spec/tables/req.toml",
            "req: idle --send / —--> sent is in no row of spec/tables/req.toml",
        ],
        "{found:?}"
    );
    // Every configuration meets some table transitions.
    let o = check(configs::req_rep(), Some(6));
    assert!(o.transitions > 5, "{o}");
}

/// Checks `spec` with a bug planted and expects a counterexample for `property`.
fn expect_counterexample(spec: Spec, property: &str) -> Outcome {
    let o = check(spec, Some(CI_DEPTH));
    assert!(
        o.properties.contains(&property),
        "{} does not check {property:?}",
        o.name
    );
    let Some((_, trace)) = o.counterexamples.iter().find(|(p, _)| *p == property) else {
        panic!("planted bug not found for {property:?}:\n{o}");
    };
    // Readable: numbered steps that name the nodes.
    assert!(trace.contains(" 1. "), "{trace}");
    eprintln!("{property}:\n{trace}");
    o
}

#[test]
fn req_taking_a_stale_reply_is_caught() {
    expect_counterexample(
        configs::req_rep().with_bug("req", Bug::ReqTakesAnyReply),
        REQ_CURRENT_REPLY,
    );
}

#[test]
fn a_reply_delivered_on_another_context_is_caught() {
    expect_counterexample(
        configs::req_rep_contexts().with_bug("req", Bug::CrossesContexts),
        REQ_CURRENT_REPLY,
    );
}

#[test]
fn a_response_delivered_on_another_context_is_caught() {
    expect_counterexample(
        configs::survey_contexts().with_bug("surveyor", Bug::CrossesContexts),
        SURVEY_CURRENT,
    );
}

#[test]
fn reply_on_the_wrong_pipe_is_caught() {
    expect_counterexample(
        configs::rep_fan_in().with_bug("rep", Bug::ReplyOnWrongPipe),
        REPLY_ON_ORIGIN,
    );
}

#[test]
fn surveyor_taking_an_earlier_surveys_response_is_caught() {
    expect_counterexample(
        configs::survey().with_bug("surveyor", Bug::SurveyorTakesAnyResponse),
        SURVEY_CURRENT,
    );
}

#[test]
fn surveyor_missing_its_deadline_is_caught() {
    expect_counterexample(
        configs::survey().with_bug("surveyor", Bug::SurveyorClockFrozen),
        SURVEY_CURRENT,
    );
}

#[test]
fn surveyor_delivering_a_response_twice_is_caught() {
    expect_counterexample(
        configs::survey().with_bug("surveyor", Bug::TakesEverythingTwice),
        SURVEY_ONCE,
    );
}

#[test]
fn push_ignoring_priorities_is_caught() {
    expect_counterexample(
        configs::pipeline().with_bug("push1", Bug::PushIgnoresPriority),
        PUSH_PRIORITY,
    );
}

#[test]
fn sub_ignoring_its_subscriptions_is_caught() {
    expect_counterexample(
        configs::pubsub().with_bug("sub1", Bug::SubTakesEverything),
        SUB_FILTER_ORDER,
    );
}

#[test]
fn sub_ignoring_an_unsubscribe_is_caught() {
    expect_counterexample(
        configs::pubsub_unsubscribe().with_bug("sub1", Bug::SubIgnoresUnsubscribe),
        SUB_FILTER_ORDER,
    );
}

#[test]
fn bus_echo_is_caught() {
    expect_counterexample(
        configs::bus().with_bug("reflector", Bug::BusEchoes),
        BUS_NO_ECHO,
    );
}

#[test]
fn pair_with_two_peers_is_caught() {
    expect_counterexample(
        configs::pair().with_bug("pair_a", Bug::PairTakesSecondPeer),
        PAIR_ONE_PEER,
    );
}

#[test]
fn req_that_never_resends_is_caught() {
    expect_counterexample(
        configs::req_rep_fair().with_bug("req", Bug::ReqNeverResends),
        REQ_ANSWERED,
    );
}

#[test]
fn survey_that_never_ends_is_caught() {
    expect_counterexample(
        configs::survey_fair().with_bug("surveyor", Bug::SurveyorNeverExpires),
        SURVEY_ENDS,
    );
}

#[test]
fn push_backlog_that_never_drains_is_caught() {
    expect_counterexample(
        configs::pipeline_fair().with_bug("push1", Bug::PushIgnoresWritable),
        PUSH_DRAINS,
    );
}

#[test]
fn pair1_device_ignoring_its_ttl_is_caught() {
    expect_counterexample(
        configs::pair1_devices().with_bug("d2a", Bug::IgnoresTtl),
        PAIR1_TTL,
    );
}

#[test]
fn req_rep_device_loop_past_its_ttl_is_caught() {
    expect_counterexample(
        configs::req_rep_device_loop().with_bug("d1_rep", Bug::IgnoresTtl),
        DEVICE_TTL,
    );
}

#[test]
fn survey_device_loop_past_its_ttl_is_caught() {
    expect_counterexample(
        configs::survey_device().with_bug("d1_resp", Bug::IgnoresTtl),
        DEVICE_TTL,
    );
}

#[test]
fn a_drop_counted_nowhere_is_caught() {
    expect_counterexample(
        configs::pubsub().with_bug("sub2", Bug::SilentDrop),
        DROPS_COUNTED,
    );
}

#[test]
fn a_dialer_that_never_redials_is_caught() {
    expect_counterexample(
        configs::req_rep_fair().with_bug("req", Bug::BackoffNeverFires),
        DIALER_RECONNECTS,
    );
}

#[test]
fn a_pull_queue_past_its_limit_is_caught() {
    // A queue of one per pipe: four messages can reach pull1 over its two pipes.
    let mut spec = configs::pipeline();
    spec.recv_queue = 1;
    let o = check(spec.clone(), Some(CI_DEPTH));
    assert!(o.counterexamples.is_empty(), "{o}");
    expect_counterexample(
        spec.with_bug("pull1", Bug::IgnoresQueueLimit),
        PULL_QUEUE_BOUNDED,
    );
}

#[test]
fn a_closed_socket_that_still_delivers_is_caught() {
    expect_counterexample(
        configs::pipeline().with_bug("pull1", Bug::KeepsQueueOnClose),
        CLOSED_SILENT,
    );
}

#[test]
fn a_poly_reply_sent_to_another_pipe_is_caught() {
    expect_counterexample(
        configs::pair1_poly().with_bug("poly", Bug::PolyRedirectsGone),
        POLY_ADDRESSED,
    );
}

#[test]
fn a_request_through_a_device_never_resent_is_caught() {
    expect_counterexample(
        configs::req_rep_device_fair().with_bug("req", Bug::ReqNeverResends),
        REQ_ANSWERED,
    );
}

#[test]
fn a_survey_through_a_device_that_never_ends_is_caught() {
    expect_counterexample(
        configs::survey_device_fair().with_bug("surveyor", Bug::SurveyorNeverExpires),
        SURVEY_ENDS,
    );
}

#[test]
fn a_back_pressuring_sub_that_drops_is_caught() {
    expect_counterexample(
        configs::pubsub_back_pressure().with_bug("sub", Bug::SubDropsWhenFull),
        SUB_BACK_PRESSURE,
    );
}
