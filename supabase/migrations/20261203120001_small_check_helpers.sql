-- CHECK constraints cost their statement far less to prepare: each helper inlines as one test of
-- a valid value and, for any other value, a call of its full verdict.
--
-- Postgres prepares a table's CHECK expressions again for every statement that writes it, and
-- preparing one inlines its helper: the helper's body is parsed and analysed anew each time. The
-- bodies of the validation helpers also hold every error branch (messages built with ||, casts,
-- hints), so the 19 constraints of training_sessions cost a single-row UPDATE about 1 ms (the
-- heartbeat, the summary after each epoch, a status change), and the 16 of training_metrics
-- about as much for every insert of epochs, whatever its row count.
--
-- Each helper now keeps only the test that a value is valid; any other value (or a NULL
-- argument the test cannot decide) goes to <helper>_verdict, which is the helper's former body
-- as it was: the same verdict, the same SQLSTATE, message, hint and column. The test only ever
-- answers true where the former body answers true, so every constraint accepts and rejects
-- exactly what it did. The constraints themselves are untouched (they call the helpers by oid).
-- The verdict functions pin search_path: they are called, never inlined, so the SET clause costs
-- the valid rows nothing.

create function mltrack_internal.check_name_verdict(field text, v text, max_len integer)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null
      or v ~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$' then
      mltrack_internal.reject('MT002', field, 'is required and must not be blank')
    when length(v) > max_len then
      mltrack_internal.reject('MT003', field, 'must be at most ' || max_len || ' characters',
                              length(v) || ' characters')
    else true
  end
$$;

create or replace function mltrack_internal.check_name(field text, v text, max_len integer)
returns boolean language sql volatile
as $$
  select case
    when length(v) <= max_len
     and v !~ '^[\u0001-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]*$'
      then true
    else mltrack_internal.check_name_verdict(field, v, max_len)
  end
$$;

create function mltrack_internal.check_text_verdict(field text, v text, max_len integer)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or length(v) <= max_len then true
    else mltrack_internal.reject('MT003', field, 'must be at most ' || max_len || ' characters',
                                 length(v) || ' characters')
  end
$$;

create or replace function mltrack_internal.check_text(field text, v text, max_len integer)
returns boolean language sql volatile
as $$
  select case
    when v is null or length(v) <= max_len then true
    else mltrack_internal.check_text_verdict(field, v, max_len)
  end
$$;

create function mltrack_internal.check_fraction_verdict(field text, v double precision)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or (v >= 0 and v <= 1) then true
    else mltrack_internal.reject('MT001', field, 'must be between 0 and 1', v::text,
                                 'Precision, recall and mAP are fractions: pass 0.867, not 86.7.')
  end
$$;

create or replace function mltrack_internal.check_fraction(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v >= 0 and v <= 1) then true
    else mltrack_internal.check_fraction_verdict(field, v)
  end
$$;

create function mltrack_internal.check_non_negative_verdict(field text, v double precision)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or (v >= 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.reject('MT001', field, 'must be a finite number >= 0', v::text,
                                 'NaN or infinity usually means the training diverged.')
  end
$$;

create or replace function mltrack_internal.check_non_negative(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v >= 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.check_non_negative_verdict(field, v)
  end
$$;

create function mltrack_internal.check_positive_verdict(field text, v double precision)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or (v > 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.reject('MT001', field, 'must be a finite number > 0', v::text)
  end
$$;

create or replace function mltrack_internal.check_positive(field text, v double precision)
returns boolean language sql volatile
as $$
  select case
    when v is null or (v > 0 and v < 'infinity'::double precision) then true
    else mltrack_internal.check_positive_verdict(field, v)
  end
$$;

create function mltrack_internal.check_positive_int_verdict(field text, v bigint, required boolean)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null and required then
      mltrack_internal.reject('MT002', field, 'is required')
    when v is null or v > 0 then true
    else mltrack_internal.reject('MT001', field, 'must be a positive integer', v::text)
  end
$$;

create or replace function mltrack_internal.check_positive_int(field text, v bigint, required boolean)
returns boolean language sql volatile
as $$
  select case
    when v > 0 or (v is null and not required) then true
    else mltrack_internal.check_positive_int_verdict(field, v, required)
  end
$$;

create function mltrack_internal.check_count_verdict(field text, v bigint)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or v >= 0 then true
    else mltrack_internal.reject('MT001', field, 'must be an integer >= 0', v::text)
  end
$$;

create or replace function mltrack_internal.check_count(field text, v bigint)
returns boolean language sql volatile
as $$
  select case
    when v is null or v >= 0 then true
    else mltrack_internal.check_count_verdict(field, v)
  end
$$;

create function mltrack_internal.check_json_object_verdict(field text, v jsonb, max_bytes integer)
returns boolean language sql volatile
set search_path = ''
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

create or replace function mltrack_internal.check_json_object(field text, v jsonb, max_bytes integer)
returns boolean language sql volatile
as $$
  select case
    when jsonb_typeof(v) = 'object' and octet_length(v::text) <= max_bytes then true
    else mltrack_internal.check_json_object_verdict(field, v, max_bytes)
  end
$$;

create function mltrack_internal.check_choice_verdict(field text, v text, choices text[], required boolean)
returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null and required then mltrack_internal.reject('MT002', field, 'is required')
    when v is null or v = any (choices) then true
    else mltrack_internal.reject('MT001', field,
                                 'must be one of ' || array_to_string(choices, ', '), v)
  end
$$;

create or replace function mltrack_internal.check_choice(field text, v text, choices text[], required boolean)
returns boolean language sql volatile
as $$
  select case
    when v = any (choices) or (v is null and not required) then true
    else mltrack_internal.check_choice_verdict(field, v, choices, required)
  end
$$;

create function mltrack_internal.check_order_verdict(
  field text, v double precision, lower_field text, lower double precision
) returns boolean language sql volatile
set search_path = ''
as $$
  select case
    when v is null or lower is null or v >= lower then true
    else mltrack_internal.reject('MT001', field, 'must not be less than ' || lower_field,
                                 v::text || ' < ' || lower::text)
  end
$$;

create or replace function mltrack_internal.check_order(
  field text, v double precision, lower_field text, lower double precision
) returns boolean language sql volatile
as $$
  select case
    when v is null or lower is null or v >= lower then true
    else mltrack_internal.check_order_verdict(field, v, lower_field, lower)
  end
$$;

-- As the helpers: the writer's rights call them (a CHECK checks EXECUTE of every function in it
-- when the statement starts, even one it never calls); anon gets nothing of mltrack.
revoke all on function
  mltrack_internal.check_name_verdict(text, text, integer),
  mltrack_internal.check_text_verdict(text, text, integer),
  mltrack_internal.check_fraction_verdict(text, double precision),
  mltrack_internal.check_non_negative_verdict(text, double precision),
  mltrack_internal.check_positive_verdict(text, double precision),
  mltrack_internal.check_positive_int_verdict(text, bigint, boolean),
  mltrack_internal.check_count_verdict(text, bigint),
  mltrack_internal.check_json_object_verdict(text, jsonb, integer),
  mltrack_internal.check_choice_verdict(text, text, text[], boolean),
  mltrack_internal.check_order_verdict(text, double precision, text, double precision)
from public, anon;
grant execute on function
  mltrack_internal.check_name_verdict(text, text, integer),
  mltrack_internal.check_text_verdict(text, text, integer),
  mltrack_internal.check_fraction_verdict(text, double precision),
  mltrack_internal.check_non_negative_verdict(text, double precision),
  mltrack_internal.check_positive_verdict(text, double precision),
  mltrack_internal.check_positive_int_verdict(text, bigint, boolean),
  mltrack_internal.check_count_verdict(text, bigint),
  mltrack_internal.check_json_object_verdict(text, jsonb, integer),
  mltrack_internal.check_choice_verdict(text, text, text[], boolean),
  mltrack_internal.check_order_verdict(text, double precision, text, double precision)
to authenticated, service_role;
