-- Helpers that turn a broken rule into a clear error.
--
-- Every constraint of mltrack is a CHECK whose expression calls one of these helpers. A helper
-- returns true when the value is valid and otherwise raises with an mltrack SQLSTATE, a message
-- that names the field and the rule, and a hint. The helpers are plain SQL, so Postgres inlines
-- them into the constraint: a valid row costs no function call, only the comparison. The raising
-- function is volatile, so the planner never evaluates it ahead of the CASE that guards it.
-- (A SET clause would stop the inlining, so the SQL helpers name every object with its schema
-- instead of pinning search_path; they run with the caller's rights.)
--
-- SQLSTATEs (README "Error codes" documents them for users):
--   MT001  invalid value: out of range, not finite, wrong kind of JSON, unknown choice
--   MT002  missing value: a required field is null or blank
--   MT003  value too large: text too long, JSON document or batch too big
--   MT004  invalid status transition (see the state machine in the triggers migration)
--   MT005  not found: the session, dataset or hyperparameter run does not exist
--   MT006  not the owner: the caller may read but not write this session

create schema if not exists mltrack_internal;
comment on schema mltrack_internal is 'mltrack helpers: constraint checks and trigger functions, not an API';

create function mltrack_internal.reject(
  code text, field text, rule text, got text default null, hint text default null
) returns boolean
language plpgsql volatile
set search_path = ''
as $$
begin
  raise exception using
    errcode = code,
    message = field || ' ' || rule || coalesce(' (got ' || got || ')', ''),
    hint = coalesce(hint, 'See "Error codes" in the mltrack README.'),
    column = field;
end
$$;

-- A required, non-blank text of at most max_len characters.
create function mltrack_internal.check_name(field text, v text, max_len integer)
returns boolean language sql volatile
as $$
  select case
    when v is null or v ~ '^[[:space:]]*$' then
      mltrack_internal.reject('MT002', field, 'is required and must not be blank')
    when length(v) > max_len then
      mltrack_internal.reject('MT003', field, 'must be at most ' || max_len || ' characters',
                              length(v) || ' characters')
    else true
  end
$$;

-- An optional text of at most max_len characters.
create function mltrack_internal.check_text(field text, v text, max_len integer)
returns boolean language sql volatile
as $$
  select case
    when v is null or length(v) <= max_len then true
    else mltrack_internal.reject('MT003', field, 'must be at most ' || max_len || ' characters',
                                 length(v) || ' characters')
  end
$$;

-- A fraction: precision, recall, mAP. NaN and infinity fall outside [0, 1] in Postgres ordering.
create function mltrack_internal.check_fraction(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v >= 0 and v <= 1) then true
    else mltrack_internal.reject('MT001', field, 'must be between 0 and 1', v::text,
                                 'Precision, recall and mAP are fractions: pass 0.867, not 86.7.')
  end
$$;

-- A finite, non-negative number: losses, times, memory. NaN sorts above infinity in Postgres.
create function mltrack_internal.check_non_negative(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v >= 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.reject('MT001', field, 'must be a finite number >= 0', v::text,
                                 'NaN or infinity usually means the training diverged.')
  end
$$;

-- A finite, strictly positive number: learning rate.
create function mltrack_internal.check_positive(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v > 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.reject('MT001', field, 'must be a finite number > 0', v::text)
  end
$$;

-- A positive integer: epochs, batch size, image size; required when `required` is true.
create function mltrack_internal.check_positive_int(field text, v bigint, required boolean)
returns boolean language sql volatile
as $$
  select case
    when v is null and required then
      mltrack_internal.reject('MT002', field, 'is required')
    when v is null or v > 0 then true
    else mltrack_internal.reject('MT001', field, 'must be a positive integer', v::text)
  end
$$;

-- A non-negative integer: counts, sizes, epoch numbers, class ids.
create function mltrack_internal.check_count(field text, v bigint)
returns boolean language sql volatile
as $$
  select case
    when v is null or v >= 0 then true
    else mltrack_internal.reject('MT001', field, 'must be an integer >= 0', v::text)
  end
$$;

-- A JSON object (not an array or scalar) of at most max_bytes bytes of text.
create function mltrack_internal.check_json_object(field text, v jsonb, max_bytes integer)
returns boolean language sql volatile
as $$
  select case
    when v is null then mltrack_internal.reject('MT002', field, 'is required (use {} for none)')
    when jsonb_typeof(v) <> 'object' then
      mltrack_internal.reject('MT001', field, 'must be a JSON object', jsonb_typeof(v))
    when octet_length(v::text) > max_bytes then
      mltrack_internal.reject('MT003', field, 'must be at most ' || max_bytes || ' bytes of JSON',
                              octet_length(v::text) || ' bytes')
    else true
  end
$$;

-- One of a fixed set of choices.
create function mltrack_internal.check_choice(field text, v text, choices text[], required boolean)
returns boolean language sql volatile
as $$
  select case
    when v is null and required then mltrack_internal.reject('MT002', field, 'is required')
    when v is null or v = any (choices) then true
    else mltrack_internal.reject('MT001', field,
                                 'must be one of ' || array_to_string(choices, ', '), v)
  end
$$;

-- `v` must not be below `lower` (both optional): min <= p50 <= p95 <= max and similar orderings.
create function mltrack_internal.check_order(
  field text, v double precision, lower_field text, lower double precision
) returns boolean language sql volatile
as $$
  select case
    when v is null or lower is null or v >= lower then true
    else mltrack_internal.reject('MT001', field, 'must not be less than ' || lower_field,
                                 v::text || ' < ' || lower::text)
  end
$$;

revoke all on function
  mltrack_internal.reject(text, text, text, text, text),
  mltrack_internal.check_name(text, text, integer),
  mltrack_internal.check_text(text, text, integer),
  mltrack_internal.check_fraction(text, double precision),
  mltrack_internal.check_non_negative(text, double precision),
  mltrack_internal.check_positive(text, double precision),
  mltrack_internal.check_positive_int(text, bigint, boolean),
  mltrack_internal.check_count(text, bigint),
  mltrack_internal.check_json_object(text, jsonb, integer),
  mltrack_internal.check_choice(text, text, text[], boolean),
  mltrack_internal.check_order(text, double precision, text, double precision)
from public;
