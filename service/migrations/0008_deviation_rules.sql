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

-- The case documents hold their deviations too: copy the same two fields into them, keeping order.
-- (`state` is json: worked on as jsonb and stored back as json.)
update cases c set state = jsonb_set(
    c.state::jsonb,
    '{deviations}',
    (
        select coalesce(jsonb_agg(
            case when d.deviation_id is null then e.item
                 else e.item || jsonb_build_object('rule', d.rule, 'reportable', d.reportable) end
            order by e.position
        ), '[]'::jsonb)
        from jsonb_array_elements(c.state::jsonb -> 'deviations') with ordinality as e(item, position)
        left join deviations d on d.deviation_id = e.item ->> 'deviation_id'
    )
)::json
where json_typeof(c.state -> 'deviations') = 'array' and json_array_length(c.state -> 'deviations') > 0;

create index deviations_region_reportable on deviations (region, reportable, detected_at);
