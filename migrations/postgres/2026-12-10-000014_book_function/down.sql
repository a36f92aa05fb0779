DROP FUNCTION madoguchi_book(JSONB);
DROP FUNCTION madoguchi_lock_id(TEXT);
