def test_scratch(rep):
    data = rep.page({"fields": ["campaign_id", "strategy_id", "strategy_groups", "total_spend", "flight_id", "campaign_start_date_campaign_tz"], "filters": [{"field": "campaign_id", "op": "isNotNull"}], "rollup": "all", "time_window": "campaign_to_date"})
    for r in data["results"]:
        print(r)
    print(rep.checker.counts)
    lines = rep.stream({"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": 2}], "rollup": "by_day", "time_window": "last_3_days"})
    print(lines)
    assert 0
