-- Verify skeldir:privileges_revoke_public_execute on pg
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_default_acl AS d
         WHERE d.defaclrole = current_user::regrole
           AND d.defaclnamespace = 0
           AND d.defaclobjtype = 'f'
           AND NOT EXISTS (
               SELECT FROM pg_catalog.aclexplode(d.defaclacl) AS a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'
           )
    ) THEN
        RAISE EXCEPTION 'PUBLIC still gets EXECUTE on new functions of %', current_user
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END;
$$;
