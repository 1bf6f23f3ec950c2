-- Every deviation names the rule that makes it one and whether the region's guideline calls it an
-- avvikelse (reportable) or it is sipvakt's own escalation to the coordinator.
alter table deviations add column reportable boolean not null default false;

-- Deviations stored before this carried a rule only when `late`. They get the rule the region files
-- give the kind today: the guideline's own where it names the situation a deviation, else sipvakt's.
update deviations set
    rule = case
        when region = 'halland' and kind = 'no_show' then 'halland.no_show'
        when region = 'halland' and kind = 'action_not_done' then 'halland.plan_not_followed'
        when region = 'vastra_gotaland' and kind = 'action_not_done' then 'vastra_gotaland.actions_not_done'
        else 'default.escalation'
    end,
    reportable = (region = 'halland' and kind in ('no_show', 'action_not_done'))
        or (region = 'vastra_gotaland' and kind = 'action_not_done')
where rule is null;

-- The case documents hold their deviations too: copy the same two fields into them. The document is
-- json, whose key order matters (meetings read back in the order given), so it is rebuilt key by key in
-- its own order and only each deviation, whose key order does not matter, goes through jsonb.
update cases c set state = (
    select json_object_agg(
        top.key,
        case when top.key <> 'deviations' then top.value else (
            select coalesce(json_agg(
                case when d.deviation_id is null then e.item
                     else (e.item::jsonb || jsonb_build_object('rule', d.rule, 'reportable', d.reportable))::json
                end
                order by e.position
            ), '[]'::json)
            from json_array_elements(top.value) with ordinality as e(item, position)
            left join deviations d on d.deviation_id = e.item ->> 'deviation_id'
        ) end
        order by top.position
    )
    from json_each(c.state) with ordinality as top(key, value, position)
)
where json_typeof(c.state -> 'deviations') = 'array' and json_array_length(c.state -> 'deviations') > 0;

create index deviations_region_reportable on deviations (region, reportable, detected_at);
